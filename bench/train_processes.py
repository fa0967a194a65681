"""Seconds per DeGLA step with 1 vs 2 CPU processes at the same global batch (``--processes``).

Writes the train tests' tiny PIL-drawn dataset, then runs ``compclip train`` once per process
count, each in a fresh subprocess with the same cores in all (``--cores`` torch threads split over
the processes), and prints each run's ``seconds_per_step`` (metrics.json: the whole run's wall time
over its steps, the first step included), wall time and the load average before and after: on a
shared machine the load average says how far to trust the numbers.

    .venv/bin/python bench/train_processes.py [--model compclip-tiny-vit] [--batch 32] [--steps 8] [--cores 2]
    .venv/bin/python bench/train_processes.py --threads 1   # one thread in every process
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_train_fixtures import write_dataset  # noqa: E402

CLI = "import sys; from compclip.cli import main; sys.exit(main(sys.argv[1:]))"


def run(folder: Path, negatives: Path, out: Path, args: argparse.Namespace, processes: int) -> dict:
    argv = ["train", "--model", args.model, "--data", folder, "--negatives", negatives, "--out", out]
    argv += ["--batch-size", args.batch, "--max-steps", args.steps, "--checkpoint-every", 0]
    threads = args.threads or args.cores // processes
    argv += ["--threads", threads, "--processes", processes]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *map(str, argv)], check=True, env=env, capture_output=True)
    wall = time.perf_counter() - started
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "processes": processes,
        "threads": threads,
        "seconds_per_step": metrics["seconds_per_step"],
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="compclip-tiny-vit")
    parser.add_argument("--batch", type=int, default=32, help="the global batch")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2, help="split over the processes as torch threads")
    parser.add_argument("--threads", type=int, help="torch threads per process instead (of --cores)")
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
        folder, negatives = write_dataset(Path(tmp) / "data", n=args.images, k=4)
        for processes in (1, 2):
            before = os.getloadavg()[0]
            result = run(folder, negatives, Path(tmp) / f"out{processes}", args, processes)
            result["load_before_after"] = [round(before, 2), round(os.getloadavg()[0], 2)]
            print(json.dumps({"model": args.model, "batch": args.batch, "steps": args.steps, **result}))


if __name__ == "__main__":
    main()
