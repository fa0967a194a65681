"""A command's worked examples print as written: a shell continuation in an examples string is an
escaped backslash (a lone one at the end of a source line joins two examples into one line)."""

import re
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "compclip"
LONE_BACKSLASH = re.compile(r"(?<!\\)(\\\\)*\\$")


def test_no_source_line_ends_with_a_lone_backslash():
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LONE_BACKSLASH.search(line)
    ]
    assert not found, f"a lone backslash ends these lines (write \\\\ in an examples string): {found}"
