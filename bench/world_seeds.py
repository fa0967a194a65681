"""The PMI effect over several seeds: world corpus, PMI, eval sets, pretraining and evaluation.

Runs the embedded default's science stages (the same `compclip` commands as dvc.yaml, with the
params.yaml settings) once per seed, the seed applied to the corpus, the eval sets and
pretraining, and prints single-object accuracy, GenPairs accuracy, Pearson and Spearman r and the
5% gap per seed with their mean and standard deviation. About 7 minutes per seed on 2 cores.

    .venv/bin/python bench/world_seeds.py --seeds 0 1 2 [--work out/bench/seeds]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("compclip"))
METRICS = {
    "single-object acc": "zeroshot/single-world/acc",
    "GenPairs acc": "zeroshot/genpairs-world/acc",
    "Pearson r": "zeroshot/genpairs-world/pearson_r",
    "Spearman r": "zeroshot/genpairs-world/spearman_r",
    "5% gap": "zeroshot/genpairs-world/gap",
    "gap CI low": "zeroshot/genpairs-world/gap_ci_low",
    "gap CI high": "zeroshot/genpairs-world/gap_ci_high",
    "Paste Pearson r": "zeroshot/paste-world/pearson_r",
    "Paste 5% gap": "zeroshot/paste-world/gap",
}


def run(*args: str) -> None:
    subprocess.run([CLI, *args, "--params", str(ROOT / "params.yaml")], check=True, cwd=ROOT)


def one_seed(seed: int, work: Path) -> dict[str, float]:
    d = work / f"seed{seed}"
    s = str(seed)
    if not (d / "report" / "metrics.json").is_file():
        run("world", "corpus", "--seed", s, "--out", str(d / "world"))
        run("pmi", "count", str(d / "world" / "captions.parquet"), "--out", str(d / "pmi"))
        run("evalsets", "build", "--pmi", str(d / "pmi"), "--seed", s, "--out", str(d / "evalsets"))
        run("pretrain", "--data", str(d / "world"), "--seed", s, "--out", str(d / "model"))
        sets = [str(d / "evalsets" / name) for name in ("single", "genpairs", "paste")]
        run("evaluate", "--model", str(d / "model"), "--out", str(d / "report"), "--zeroshot", *sets)
    metrics = json.loads((d / "report" / "metrics.json").read_text())
    return {label: metrics[key] for label, key in METRICS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench" / "seeds")
    args = parser.parse_args()
    rows = {}
    for seed in args.seeds:
        started = time.perf_counter()
        rows[seed] = one_seed(seed, args.work)
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s {json.dumps(rows[seed])}", flush=True)
    print("| seed | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for seed, row in rows.items():
        print(f"| {seed} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |")
    if len(rows) > 1:
        cells = []
        for label in METRICS:
            values = [row[label] for row in rows.values()]
            cells.append(f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}")
        print("| mean ± sd | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
