"""The small pipeline run twice, every task a subprocess and every task in its own image (podman),
each timed; every output's files compared by their sha256 in the two runs' lineage manifests.

Run (`make run-containers`, which builds the images first):
    .venv/bin/python bench/containers_run.py --out out/containers [--runners R ...] [--param NAME=VALUE ...]
``--runners`` runs only those (the other's last run under ``--out`` is compared). Exits non-zero when
a run fails or an output differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COMPCLIP = str(Path(sys.executable).parent / "compclip")


RUNNERS = ("subprocess", "containers")


def run(runner: str, root: Path, params: list[str]) -> None:
    """One uncached run by ``runner`` under ``root``, timed."""
    argv = [COMPCLIP, "pipeline", "run", "--runner", runner, "--root", str(root), "--no-cache"]
    start = time.perf_counter()
    subprocess.run([*argv, *(a for p in params for a in ("--param", p))], check=True)
    seconds = time.perf_counter() - start
    print(f"{runner:>10}: {seconds:7.1f} s", flush=True)


def last_manifest(root: Path) -> dict:
    """The lineage manifest of the last run under ``root``."""
    found = sorted(root.glob("*/lineage-record*/lineage/lineage.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit(f"no run under {root}: run this script with --runners {root.name}")
    return json.loads(found[-1].read_text())


def differences(a: dict, b: dict) -> list[str]:
    """``output/file`` for every file whose hash differs or that only one run has."""
    found = []
    for name in sorted(a["outputs"].keys() | b["outputs"].keys()):
        files_a = a["outputs"].get(name, {}).get("files", {})
        files_b = b["outputs"].get(name, {}).get("files", {})
        found += [
            f"{name}/{f}" for f in sorted(files_a.keys() | files_b.keys()) if files_a.get(f) != files_b.get(f)
        ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a folder for both runs' pipeline roots")
    parser.add_argument("--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument("--param", action="append", default=[], help="as `compclip pipeline run --param`")
    args = parser.parse_args()
    for runner in args.runners:
        run(runner, args.out.resolve() / runner, args.param)
    manifests = {runner: last_manifest(args.out.resolve() / runner) for runner in RUNNERS}
    files = sum(len(o["files"]) for o in manifests["subprocess"]["outputs"].values())
    differ = differences(manifests["subprocess"], manifests["containers"])
    print(f"outputs: {len(manifests['subprocess']['outputs'])}, files: {files}, differing: {len(differ)}")
    print("\n".join(f"  differs: {d}" for d in differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
