"""Run the pipeline on this machine through Kubeflow's local runner (the same definition a cluster runs).

Every task runs as a subprocess of this Python (``SubprocessRunner(use_venv=False)``, the runner
``subprocess``) or in its own image (``containers``: :mod:`compclip.pipelines.containers`); outputs
land under ``root`` and, with caching on, a task whose inputs did not change is not run again.
"""

import json
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compclip.errors import UserError

log = logging.getLogger(__name__)
RUNNERS = ("subprocess", "containers")


def run(
    pipeline, arguments: dict[str, Any], root: Path, cache: bool = True, runner: str = "subprocess"
) -> tuple[Path, dict]:
    """Run ``pipeline`` with ``arguments``; return the run's lineage manifest: its path and content."""
    new = execute(pipeline, arguments, root, cache, runner)
    # The lineage task never comes from the cache (each run has its own id): it is in the new run's folder.
    found = [m for run_dir in new for m in run_dir.rglob("lineage/lineage.json")]
    if len(found) != 1:
        raise UserError(f"the local run under {root} wrote {len(found)} lineage manifests, not one")
    return found[0], json.loads(found[0].read_text())


def execute(
    pipeline, arguments: dict[str, Any], root: Path, cache: bool = True, runner: str = "subprocess"
) -> list[Path]:
    """Run ``pipeline`` with ``arguments`` by ``runner`` (one of :data:`RUNNERS`); return the run
    folders it made under ``root`` (not the cache)."""
    from kfp import local

    before = set(root.glob("*/"))
    with _runner(runner) as chosen:
        local.init(
            runner=chosen,
            pipeline_root=str(root),
            enable_caching=cache,
            cache_root=str(root / ".cache"),
            raise_on_error=True,
        )
        try:
            pipeline(**arguments)
        except RuntimeError as err:
            message = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()[-1]
            raise UserError(f"the local pipeline run failed: {message}") from err
    return sorted(p for p in set(root.glob("*/")) - before if not p.name.startswith("."))


@contextmanager
def _runner(name: str) -> Iterator[Any]:
    from kfp import local

    if name == "containers":
        from compclip.pipelines.containers import container_runner

        with container_runner() as runner:
            yield runner
    elif name == "subprocess":
        with warnings.catch_warnings():
            # kfp warns on every task that its image is not a Python base image: here each task runs
            # in this venv, which holds what the images hold (their locks come from its constraints).
            warnings.filterwarnings("ignore", "You may be attemping to run a task", RuntimeWarning)
            yield local.SubprocessRunner(use_venv=False)
    else:
        raise UserError(f"unknown runner {name!r}; choose one of {', '.join(RUNNERS)}")


def comparison_table(manifest: dict) -> str:
    """The comparison's table (compare.md) of a run."""
    return (Path(manifest["outputs"]["compare"]["uri"]) / "compare.md").read_text()
