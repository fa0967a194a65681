"""DeGLA on the world over training seeds, for each of several sets of negatives.

The bootstrap CIs of `compclip compare` resample evaluation items: they say nothing of how much a
gain moves when only the training seed changes. This script fine-tunes the same base model on the
same data once per (negatives, seed), evaluates each model on the same sets, compares it with the
base, and prints each run's swap and replace gains (with their paired CIs), then per negatives
set the mean and standard deviation over seeds, as a BENCHMARKS.md table.

Inputs come from a finished pipeline run (`compclip pipeline run --root ROOT`; RUN is its run
folder): its pretrained model, fine-tuning set, evaluation sets and the base model's report.
A run whose comparison exists is kept (delete its folder to redo it). About 16 minutes a run on
2 cores.

    .venv/bin/python bench/degla_seeds.py --run out/demo/kfp/compclip-... \\
        --negatives now=RUN/negatives-generate/negatives old=old-negatives/ --seeds 0 1 2 \\
        [--work out/bench/degla-seeds] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("compclip"))
FAMILIES = ("swap", "replace")


def run(run_dir: Path, negatives: str, seed: int, out: Path, params: dict) -> dict:
    """Train, evaluate and compare one (negatives, seed); the paired change of each family."""
    comparison = out / "compare" / "compare.json"
    if not comparison.is_file():
        out.mkdir(parents=True, exist_ok=True)
        params = {**params, "train": {**params["train"], "seed": seed}}
        (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        sets = run_dir / "evalsets-build" / "evalsets"
        commands = [
            ["train", "--method", "degla", "--model", str(run_dir / "pretrain" / "model"),
             "--data", str(run_dir / "world-corpus-2" / "corpus"), "--negatives", negatives,
             "--out", str(out / "degla")],
            ["evaluate", "--model", str(out / "degla"), "--out", str(out / "report"),
             "--zeroshot", *(str(sets / name) for name in ("single", "genpairs", "paste")),
             "--sugarcrepe", str(sets / "compositional"), "--sugarcrepe-images", str(sets / "compositional")],
        ]  # fmt: skip
        for command in commands:
            subprocess.run([CLI, *command, "--params", str(out / "params.yaml")], check=True)
        base, tuned = run_dir / "evaluate-3" / "report", out / "report"
        comparing = [CLI, "compare", f"base={base}", f"exp={tuned}", "--out", str(out / "compare")]
        subprocess.run(comparing, check=True)
    paired = json.loads(comparison.read_text())["paired"]["exp"]
    return {family: paired[f"compositional/{family}/mean_acc"] for family in FAMILIES}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, required=True, help="a finished pipeline run's folder")
    parser.add_argument("--negatives", nargs="+", required=True, metavar="NAME=PATH",
                        help="negatives.json or its folder, by name")  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench" / "degla-seeds")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    args = parser.parse_args()
    params = yaml.safe_load(args.params.read_text())
    print(f"train: {json.dumps(params['train'])}\n")
    print("| negatives | seed | swap gain [95% CI] | replace gain [95% CI] |\n|---|---|---|---|")
    gains: dict[str, dict[str, list[float]]] = {}
    for item in args.negatives:
        name, _, path = item.partition("=")
        for seed in args.seeds:
            change = run(args.run, path, seed, args.work / f"{name}-seed{seed}", params)
            cells = [
                f"{100 * c['change']:+.1f} [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]"
                for c in (change[f] for f in FAMILIES)
            ]
            print(f"| {name} | {seed} | {' | '.join(cells)} |", flush=True)
            for family in FAMILIES:
                gains.setdefault(name, {}).setdefault(family, []).append(100 * change[family]["change"])
    print("\n| negatives | seeds | swap gain, mean ± sd | replace gain, mean ± sd |\n|---|---|---|---|")
    for name, by_family in gains.items():
        cells = [
            f"{statistics.mean(v):+.1f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.1f}"
            for v in (by_family[f] for f in FAMILIES)
        ]
        print(f"| {name} | {len(by_family['swap'])} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
