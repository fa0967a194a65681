"""The small pipeline run twice, every task a subprocess and every task in its own image (podman),
each timed; every output's files compared by their sha256 in the two runs' lineage manifests.

Run (`make run-containers`, which builds the images first):
    .venv/bin/python bench/containers_run.py --out out/containers [--param NAME=VALUE ...]
Exits non-zero when a run fails or an output differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

COMPCLIP = str(Path(sys.executable).parent / "compclip")


def run(runner: str, root: Path, params: list[str]) -> tuple[float, dict]:
    """One uncached run by ``runner`` under ``root``: its seconds and its lineage manifest."""
    argv = [COMPCLIP, "pipeline", "run", "--runner", runner, "--root", str(root), "--no-cache"]
    start = time.perf_counter()
    subprocess.run([*argv, *(a for p in params for a in ("--param", p))], check=True)
    seconds = time.perf_counter() - start
    (manifest,) = sorted(root.glob("*/lineage-record*/lineage/lineage.json"))
    return seconds, json.loads(manifest.read_text())


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
    parser.add_argument("--param", action="append", default=[], help="as `compclip pipeline run --param`")
    args = parser.parse_args()
    times, manifests = {}, {}
    for runner in ("subprocess", "containers"):
        times[runner], manifests[runner] = run(runner, args.out.resolve() / runner, args.param)
    files = sum(len(o["files"]) for o in manifests["subprocess"]["outputs"].values())
    differ = differences(manifests["subprocess"], manifests["containers"])
    for runner, seconds in times.items():
        print(f"{runner:>10}: {seconds:7.1f} s")
    print(f"outputs: {len(manifests['subprocess']['outputs'])}, files: {files}, differing: {len(differ)}")
    print("\n".join(f"  differs: {d}" for d in differ))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
