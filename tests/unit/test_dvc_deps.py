"""dvc.yaml names, in each stage's deps, every compclip module the stage's command runs.

The modules are derived from the code, not listed by hand: the command's `compclip` sub-command
names its CLI module (compclip.cli.COMMANDS), and every compclip import reachable from it (at
module level or inside functions, package __init__ files included) is followed.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from compclip.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(path: Path, package: str) -> set[str]:
    """The compclip modules one file imports (a `from X import name` also tries X.name)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("compclip"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("compclip"):
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names)
    return names


def reachable(module: str) -> set[Path]:
    """Every file of the package that importing ``module`` (and calling into it) can run."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            path = module_file(".".join(parts[:i]))
            if path is None or path in seen:
                continue
            seen.add(path)
            package = ".".join(parts[:i]) if path.name == "__init__.py" else ".".join(parts[: i - 1])
            todo.extend(imported(path, package))
    return seen


def stages() -> list[tuple[str, str, list[str]]]:
    """(stage name, command, deps) of every dvc.yaml stage, foreach stages expanded once."""
    data = yaml.safe_load((REPO / "dvc.yaml").read_text())
    found = []
    for name, stage in data["stages"].items():
        body = stage.get("do", stage)
        item = (stage.get("foreach") or ["x"])[0]
        command = " ".join(body["cmd"].split()).replace("${item}", str(item))
        found.append((name, command, body.get("deps", [])))
    return found


@pytest.mark.parametrize(("name", "command", "deps"), stages(), ids=[s[0] for s in stages()])
def test_stage_deps_cover_every_module_it_runs(name, command, deps):
    words = shlex.split(command)
    assert words[0] == "compclip", f"{name}: stage commands are compclip commands"
    cli_module = COMMANDS[words[1]][0]
    files = reachable(cli_module) | reachable("compclip.cli")
    covered = [REPO / d for d in deps]
    missing = sorted(
        str(f.relative_to(REPO)) for f in files if not any(f == d or d in f.parents for d in covered)
    )
    assert not missing, f"dvc.yaml stage {name!r} runs modules its deps do not name: {missing}"
