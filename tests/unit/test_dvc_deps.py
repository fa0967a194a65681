"""dvc.yaml names, in each stage's deps, every compclip module the stage's command imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compclip.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]
# the stages whose deps this test guards (extend as the other stages' deps are fixed)
STAGES = ("evalsets", "evaluate", "compare")


def imported_files(module: str) -> set[str]:
    """Repository paths of the compclip modules that importing ``module`` loads (fresh interpreter)."""
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
        "print(json.dumps([m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'compclip']))"
    )
    src = str(REPO / "src")
    run = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": src, "PATH": ""})  # fmt: skip
    return {Path(f).resolve().relative_to(REPO).as_posix() for f in json.loads(run.stdout)}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_cover_every_module_it_imports(stage):
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][stage]
    spec = spec.get("do", spec)
    command = spec["cmd"].split()[1]
    deps = [d.rstrip("/") for d in spec["deps"]]
    missing = sorted(
        f
        for f in imported_files(COMMANDS[command][0])
        if not any(f == d or f.startswith(d + "/") for d in deps)
    )
    assert missing == [], f"dvc.yaml stage {stage} runs {missing} but does not list them in deps"
