"""The smoke test of one image family, run inside its image (`make smoke-FAMILY`).

On the host, ``--plan FAMILY`` reads every Kubeflow component of that family
(src/compclip/components/*/component.py, by the image it names) and prints what its tasks do at
run time: each module or name its body imports (``import:NAME``, ``from:MODULE/NAME``: one word a
line, so the lines pass as arguments); the serve family runs the inspection service (``command:serve``,
``compclip serve``, and its KServe server). ``--accelerator`` names the variant: what only a GPU
image carries (constraints-cuda.txt: triton, cuSOLVER, ...) must be installed in a ``cuda`` image
and absent from a ``cpu`` one (``installed:NAME``, ``absent:NAME``). In the image (read-only root,
no network, its own user), the same lines as arguments: import every module and name, print every
command's help (which loads its stage's modules), check the distributions, then the image's own
rules. Any failure exits non-zero, naming it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import os
import re
import sys
import tempfile
from pathlib import Path

# What every task of every family imports first: kfp's executor (components run through it).
ALWAYS = ("kfp.dsl.executor_main",)
# The serve image runs the inspection service: its command and the KServe server it starts.
SERVE = ("command:serve", "import:compclip.serve.server", "import:compclip.serve.model")


def plan(family: str, accelerator: str) -> list[str]:
    """The lines of ``family``'s ``accelerator`` variant, sorted: its components' ``import:`` and
    ``command:`` lines, and the GPU-only distributions as ``installed:`` (cuda) or ``absent:`` (cpu)."""
    from kfp.dsl.base_component import BaseComponent

    from compclip.images import read_pins

    repo = Path(__file__).resolve().parents[2]
    lines = {f"import:{name}" for name in ALWAYS}
    kind = "installed" if accelerator == "cuda" else "absent"
    lines.update(f"{kind}:{name}" for name in read_pins(repo / "constraints-cuda.txt"))
    if family == "serve":
        lines.update(SERVE)
    for path in sorted(repo.glob("src/compclip/components/*/component.py")):
        module = importlib.import_module(f"compclip.components.{path.parent.name}.component")
        for component in vars(module).values():
            if not isinstance(component, BaseComponent):
                continue
            found = re.search(r"/compclip-([a-z]+):", component.component_spec.implementation.container.image)
            if found and found[1] == family:
                lines.update(_uses(inspect.getsource(component.python_func)))
    return sorted(lines)


def _uses(source: str) -> set[str]:
    """The modules and names a component body imports."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(f"import:{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"from:{node.module}/{alias.name}" for alias in node.names)
    return found


def check(lines: list[str]) -> list[str]:
    """Run ``lines`` here (inside the image); the failures."""
    from importlib.metadata import PackageNotFoundError, distribution

    from compclip.cli import main

    failures = []
    for line in lines:
        kind, _, what = line.partition(":")
        try:
            if kind in ("installed", "absent"):
                try:
                    distribution(what)
                    found = True
                except PackageNotFoundError:
                    found = False
                if found != (kind == "installed"):
                    raise RuntimeError("installed" if found else "not installed")
            elif kind == "import":
                importlib.import_module(what)
            elif kind == "from":  # a name of a module, or one of its submodules
                module, name = what.split("/")
                if not hasattr(importlib.import_module(module), name):
                    importlib.import_module(f"{module}.{name}")
            else:
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        main([*what.split("/"), "--help"])
                except SystemExit as done:
                    if done.code:
                        raise RuntimeError(f"exit status {done.code}") from None
        except Exception as err:  # every failure is reported, not only the first
            failures.append(f"{line}: {type(err).__name__}: {err}")
        print(f"ok {line}" if not failures or not failures[-1].startswith(line) else f"FAILED {line}")
    if os.getuid() == 0:
        failures.append("runs as root")
    if os.access(sys.prefix, os.W_OK):
        failures.append(f"{sys.prefix} is writable: the root is not read-only")
    with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR", "/tmp")):
        pass  # what a task writes goes under /tmp
    return failures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--plan"]:  # --plan FAMILY --accelerator cpu|cuda
        print("\n".join(plan(sys.argv[2], sys.argv[4])))
    elif len(sys.argv) < 2:
        sys.exit("nothing to check: give the lines of --plan FAMILY")
    else:
        problems = check(sys.argv[1:])
        print("\n".join(problems) or f"smoke test passed: {len(sys.argv) - 1} imports and commands")
        sys.exit(1 if problems else 0)
