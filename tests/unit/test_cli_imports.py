"""Each command loads only what it runs: a command's ``--help`` pays for none of the heavy libraries."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "kserve", "open_clip")

# parse the command line as `compclip ARGS` does, then report which heavy modules were imported
PROBE = """
import contextlib, io, json, sys
from compclip.cli import build_parser
argv = sys.argv[1:]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    build_parser(argv).parse_args(argv)
print(json.dumps(sorted(name for name in {heavy} if name in sys.modules)))
"""


COMMANDS = [["inspect", "--help"], ["serve", "--help"], ["--help"], ["pmi", "--help"], ["registry", "--help"]]


@pytest.mark.parametrize("argv", COMMANDS)
def test_help_imports_no_heavy_library(argv):
    probe = PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", f"`compclip {' '.join(argv)}` imported {done.stdout.strip()}"
