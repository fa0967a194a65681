"""The PMI effect over several seeds: world corpus, PMI, eval sets, pretraining and evaluation.

Runs the embedded default's science stages (the same `compclip` commands as dvc.yaml, with the
settings of --params) once per seed, the seed applied to the corpus, the eval sets and
pretraining, and prints the params it ran with (read from --params), then single-object accuracy,
GenPairs accuracy, Pearson and Spearman r, the never-together items' accuracy and the 5% gap per
seed with their mean and standard deviation, as a BENCHMARKS.md table. Every seed is recomputed
from scratch unless --reuse keeps a seed's finished report. About 7 minutes per seed on 2 cores.

    .venv/bin/python bench/world_seeds.py --seeds 0 1 2 [--work out/bench/seeds] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("compclip"))
METRICS = {
    "single-object acc": "zeroshot/single-world/acc",
    "GenPairs acc": "zeroshot/genpairs-world/acc",
    "Pearson r": "zeroshot/genpairs-world/pearson_r",
    "Spearman r": "zeroshot/genpairs-world/spearman_r",
    "never-together acc": "zeroshot/genpairs-world/never_together/acc",
    "5% gap": "zeroshot/genpairs-world/gap",
    "gap CI low": "zeroshot/genpairs-world/gap_ci_low",
    "gap CI high": "zeroshot/genpairs-world/gap_ci_high",
    "Paste Pearson r": "zeroshot/paste-world/pearson_r",
    "Paste 5% gap": "zeroshot/paste-world/gap",
}


def reported_params(params: dict) -> str:
    """The settings behind the numbers, as read from the params file."""
    world, evalsets, pretrain = params["world"], params["evalsets"], params["pretrain"]
    optim, data = pretrain["optim"], pretrain["data"]
    return (
        f"world n={world['n']} preset={world['preset']}; evalsets n_strata={evalsets['n_strata']} "
        f"per_stratum={evalsets['per_stratum']} single_per_class={evalsets['single_per_class']}; "
        f"pretrain {pretrain['model']} epochs={optim['epochs']} batch_size={data['batch_size']} "
        f"lr={optim['lr']}; evaluate stats {params['evaluate']['stats']}"
    )


def one_seed(seed: int, work: Path, params: Path, reuse: bool) -> dict[str, float]:
    def run(*args: str) -> None:
        subprocess.run([CLI, *args, "--params", str(params)], check=True, cwd=ROOT)

    d, s = work / f"seed{seed}", str(seed)
    if not (reuse and (d / "report" / "metrics.json").is_file()):
        shutil.rmtree(d, ignore_errors=True)
        run("world", "corpus", "--seed", s, "--out", str(d / "world"))
        run("pmi", "count", str(d / "world" / "captions.parquet"), "--out", str(d / "pmi"))
        run("evalsets", "build", "--pmi", str(d / "pmi"), "--seed", s, "--out", str(d / "evalsets"))
        run("pretrain", "--data", str(d / "world"), "--seed", s, "--out", str(d / "model"))
        sets = [str(d / "evalsets" / name) for name in ("single", "genpairs", "paste")]
        run("evaluate", "--model", str(d / "model"), "--out", str(d / "report"), "--zeroshot", *sets)
    metrics = json.loads((d / "report" / "metrics.json").read_text())
    return {label: metrics.get(key) for label, key in METRICS.items()}


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench" / "seeds")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a seed's finished report instead of rerunning"
    )
    args = parser.parse_args()
    print("params:", reported_params(yaml.safe_load(args.params.read_text())), flush=True)
    rows = {}
    for seed in args.seeds:
        started = time.perf_counter()
        rows[seed] = one_seed(seed, args.work, args.params.resolve(), args.reuse)
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s {json.dumps(rows[seed])}", flush=True)
    print("| seed | " + " | ".join(METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for seed, row in rows.items():
        print(f"| {seed} | " + " | ".join(_cell(v) for v in row.values()) + " |")
    if len(rows) > 1:
        cells = []
        for label in METRICS:
            values = [row[label] for row in rows.values() if row[label] is not None]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.3f}{spread}" if values else "n/a")
        print("| mean ± sd | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
