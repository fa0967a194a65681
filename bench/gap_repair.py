"""Does PMI-steered DeGLA repair the PMI gap, or does the fine-tuning data? The world's experiment.

One pretrained base (the world, PMI table and pretraining of --params) is fine-tuned once per
(arm, training seed), every arm on a fine-tuning sample of the same size and seed:

- ``fresh``: today's `finetune` sample (params' `finetune` section: 60% two-object scenes);
- ``skewed``: a sample that keeps the pretraining law (the `world` section's mix and overrides:
  65% object-accessory scenes with the same Zipf co-occurrence, the accessory named as rarely);

with plain CLIP fine-tuning, NegCLIP and DeGLA on the rule-based negatives steered to low-PMI pairs
(params' `negatives`), and on the skewed data DeGLA also with the noun and adjective replacements
(the types steering picks words for) drawn uniformly instead (`steer.temperature` 100; every other
negative the same) and with none of those two types.
Every model is scored on the same GenPairs-world and compositional sets; the groups of items come
from the base's report (its 5% PMI tails, its never-together pairs and its lowest finite-PMI bin).

Prints, as BENCHMARKS.md tables: each arm's level (mean over seeds) of the 5% gap, the accuracy
of the never-together pairs, of the lowest finite-PMI bin and of all GenPairs items, and the swap
and replace family means; then paired differences (arm - base, skewed - fresh, steered - uniform,
steered - no steered types) with two 95% intervals: a paired item bootstrap of the seed-mean
difference (items resampled once for every seed and both arms) and a t interval over the seeds
(what another training seed would move). A finished output is reused; delete it to redo it;
--report-only tabulates what is finished. One seed of the eight arms at these defaults took 31 min
at once (--jobs 8) on the shared 2 cores at load 20 (BENCHMARKS.md); the demo's budget is
--pretrain-epochs 2 --finetune-n 20000 --epochs 10.

    OMP_NUM_THREADS=1 .venv/bin/python bench/gap_repair.py --seeds 0 1 2 [--jobs 2] \\
        [--work out/bench/gap] [--pretrain-epochs 1] [--finetune-n 4000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy import stats as sps

from compclip.evaluate.families import family_of
from compclip.evaluate.results import pmi_values, read_results, tail_masks
from compclip.evaluate.stats import StatsConfig, pmi_order, stratified_bootstrap, tie_keys
from compclip.negatives import io
from compclip.negatives.types import Record
from compclip.outputs import local_out
from compclip.rejects import Rejects

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("compclip"))
MARKER = "_compclip.json"
GENPAIRS, COMPOSITIONAL = "zeroshot/genpairs-world", "sugarcrepe"
STEERED_TYPES = ("replace_nouns", "replace_adjectives")  # the types whose words steering picks


@dataclass(frozen=True)
class Arm:
    data: str  # fresh or skewed
    method: str  # clip, negclip or degla
    negatives: str | None  # steered, uniform or unsteered (None: plain CLIP)


ARMS = {
    "fresh CLIP-FT": Arm("fresh", "clip", None),
    "fresh NegCLIP": Arm("fresh", "negclip", "steered"),
    "fresh DeGLA": Arm("fresh", "degla", "steered"),
    "skewed CLIP-FT": Arm("skewed", "clip", None),
    "skewed NegCLIP": Arm("skewed", "negclip", "steered"),
    "skewed DeGLA": Arm("skewed", "degla", "steered"),
    "skewed DeGLA uniform": Arm("skewed", "degla", "uniform"),
    "skewed DeGLA no steered types": Arm("skewed", "degla", "unsteered"),
}
CONTRASTS = [
    *((f"{name} - base", name, "base") for name in ARMS),
    *((f"skewed - fresh, {m}", f"skewed {m}", f"fresh {m}") for m in ("CLIP-FT", "NegCLIP", "DeGLA")),
    ("skewed DeGLA: steered - uniform", "skewed DeGLA", "skewed DeGLA uniform"),
    ("skewed DeGLA: steered - no steered types", "skewed DeGLA", "skewed DeGLA no steered types"),
]


def _slug(name: str) -> str:
    return name.replace(" ", "-")


class Runner:
    """Runs `compclip` commands with per-variant params files, skipping finished outputs."""

    def __init__(self, work: Path, params: dict, log: Path) -> None:
        self.work, self.params, self.log = work, params, log

    def params_file(self, name: str, changes: dict[str, object]) -> Path:
        """params with ``section.key[.key]`` ``changes``, written once as ``params/NAME.yaml``."""
        params = copy.deepcopy(self.params)
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = params
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        path = self.work / "params" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        return path

    def run(self, out: Path, params: Path, *args: str) -> Path:
        if not (out / MARKER).is_file():
            started = time.perf_counter()
            command = [CLI, *args, "--out", str(out), "--params", str(params)]
            with self.log.open("a") as log:
                subprocess.run(command, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            print(f"  {out.relative_to(self.work)}: {time.perf_counter() - started:.0f} s", flush=True)
        return out


def prepare(runner: Runner, args: argparse.Namespace) -> dict[str, Path]:
    """The shared inputs: world, PMI, eval sets, then at once the base (and its report) and both
    fine-tuning sets with the negatives of each kind."""
    w = runner.work
    base_params = runner.params_file("base", {
        "evalsets.per_stratum": args.per_stratum, "evalsets.single_per_class": args.single_per_class,
        "evalsets.per_subset": args.per_subset, "pretrain.optim.epochs": args.pretrain_epochs,
    })  # fmt: skip
    world = runner.run(w / "world", base_params, "world", "corpus")
    pmi = runner.run(w / "pmi", base_params, "pmi", "count", str(world / "captions.parquet"))
    sets = runner.run(w / "evalsets", base_params, "evalsets", "build", "--pmi", str(pmi))
    paths = {"pmi": pmi, "sets": sets}
    with ThreadPoolExecutor(2) as pool:
        base = pool.submit(lambda: runner.run(w / "base", base_params, "pretrain", "--data", str(world)))
        paths |= finetune_inputs(runner, pmi, args.finetune_n)
        paths["base"] = evaluate(runner, base.result(), w / "report-base", sets, base_params)
    return paths


def finetune_inputs(runner: Runner, pmi: Path, n: int) -> dict[str, Path]:
    """Both fine-tuning sets (``fresh``, ``skewed``) and the negatives of each kind (``DATA-KIND``)."""
    w, params, paths = runner.work, runner.params, {}
    skewed = {"overrides": params["world"]["overrides"], "preset": params["world"]["preset"]}
    for data, section in (("fresh", {}), ("skewed", skewed)):
        changes = {f"finetune.{k}": v for k, v in {**section, "n": n}.items()}
        ft_params = runner.params_file(f"finetune-{data}", changes)
        paths[data] = runner.run(
            w / f"finetune-{data}", ft_params, "world", "corpus", "--section", "finetune"
        )
    steered_params = runner.params_file("negatives-steered", {})
    for data in ("fresh", "skewed"):
        paths[f"{data}-steered"] = runner.run(
            w / f"negatives-{data}-steered", steered_params, "negatives", "generate", str(paths[data]),
            "--pmi", str(pmi),
        )  # fmt: skip
    uniform_params = runner.params_file("negatives-uniform", {"negatives.steer.temperature": 100.0})
    replacements = runner.run(
        w / "negatives-skewed-uniform-replacements", uniform_params, "negatives", "generate",
        str(paths["skewed"]), "--pmi", str(pmi), "--types", *STEERED_TYPES,
    )  # fmt: skip
    paths["skewed-uniform"] = splice(paths["skewed-steered"], replacements, w / "negatives-skewed-uniform")
    paths["skewed-unsteered"] = splice(paths["skewed-steered"], None, w / "negatives-skewed-unsteered")
    return paths


def splice(negatives: Path, replacements: Path | None, out: Path) -> Path:
    """``negatives`` with each caption's negatives of the steered types replaced by those of
    ``replacements`` (None: dropped); every other negative is the same."""
    if not (out / MARKER).is_file():
        rejects = Rejects()
        extra = {}
        for record in [] if replacements is None else io.read_negatives(str(replacements), rejects):
            extra[io.caption_key(record.image_id, record.original)] = record
        records = []
        for record in io.read_negatives(str(negatives), rejects):
            kept = [
                (n, t) for n, t in zip(record.enhanced, record.types, strict=True) if t not in STEERED_TYPES
            ]
            other = extra.get(io.caption_key(record.image_id, record.original))
            kept += [] if other is None else list(zip(other.enhanced, other.types, strict=True))
            enhanced, types = (list(x) for x in zip(*kept, strict=True)) if kept else ([], [])
            records.append(Record(record.image_id, record.original, enhanced, types))
        if rejects.total:
            raise ValueError(f"{negatives}, {replacements}: malformed records {rejects.as_dict()}")
        with local_out(str(out)) as staged:
            metrics = {"n_captions": len(records), "negatives": sum(len(r.enhanced) for r in records)}
            io.write_outputs(staged, records, metrics)
    return out


def evaluate(runner: Runner, model: Path, out: Path, sets: Path, params: Path) -> Path:
    zeroshot = [str(sets / "genpairs"), str(sets / "single")]
    compositional = [
        "--sugarcrepe",
        str(sets / "compositional"),
        "--sugarcrepe-images",
        str(sets / "compositional"),
    ]
    return runner.run(out, params, "evaluate", "--model", str(model), "--zeroshot", *zeroshot, *compositional)


def train_arm(runner: Runner, paths: dict[str, Path], name: str, seed: int) -> Path:
    arm, d = ARMS[name], runner.work / f"seed{seed}" / _slug(name)
    params = paths[f"train-seed{seed}"]
    negatives = [] if arm.negatives is None else ["--negatives", str(paths[f"{arm.data}-{arm.negatives}"])]
    model = runner.run(
        d / "model", params, "train", "--method", arm.method, "--model", str(runner.work / "base"),
        "--data", str(paths[arm.data]), *negatives,
    )  # fmt: skip
    return evaluate(runner, model, d / "report", paths["sets"], runner.work / "params" / "base.yaml")


class Scores:
    """Per-item correctness of every report on the base's items, and the base's groups of items."""

    def __init__(self, base: Path, stats: StatsConfig) -> None:
        table = read_results(base, GENPAIRS, ["id", "pmi", "pmi_tail"])
        subsets = read_results(base, COMPOSITIONAL, ["id", "subset"])
        self.ids = {GENPAIRS: table.column("id").to_pylist(), COMPOSITIONAL: subsets.column("id").to_pylist()}
        pmi = pmi_values(table)
        low, high = tail_masks(table)
        has = np.flatnonzero(~np.isnan(pmi))
        order = has[
            pmi_order(pmi[has], tie_keys(np.asarray(self.ids[GENPAIRS], dtype=object)[has], stats.seed))
        ]
        finite = order[~np.isneginf(pmi[order])]
        lowest_bin = np.zeros(len(pmi), bool)
        lowest_bin[np.array_split(finite, stats.n_bins)[0]] = True
        self.groups = {
            "5% gap": (GENPAIRS, [low, high], [-1.0, 1.0]),
            "never-together acc": (GENPAIRS, [np.isneginf(pmi)], [1.0]),
            "lowest-bin acc": (GENPAIRS, [lowest_bin], [1.0]),
            "GenPairs acc": (GENPAIRS, [np.ones(len(pmi), bool)], [1.0]),
        }
        subset = np.asarray(subsets.column("subset").to_pylist())
        for family in ("swap", "replace"):
            masks = [subset == s for s in sorted(set(subset)) if family_of(s) == family]
            self.groups[family] = (COMPOSITIONAL, masks, [1 / len(masks)] * len(masks))
        self.stats = stats

    def correct(self, report: Path) -> dict[str, np.ndarray]:
        """``key -> correctness`` of ``report``, in the base's item order."""
        out = {}
        for key, ids in self.ids.items():
            table = read_results(report, key, ["id", "correct"])
            where = dict(
                zip(table.column("id").to_pylist(), table.column("correct").to_pylist(), strict=True)
            )
            out[key] = np.asarray([where[i] for i in ids], dtype=float)
        return out

    def estimate(self, values: list[dict[str, np.ndarray]], metric: str) -> dict[str, float]:
        """Mean over seeds of ``metric`` (in points) on per-seed item ``values`` (a correctness or a
        paired difference), its item-bootstrap CI, the seed sd and the seeds' t interval."""
        key, masks, weights = self.groups[metric]
        per_seed = [
            100 * sum(w * v[key][m].mean() for m, w in zip(masks, weights, strict=True)) for v in values
        ]
        mean_items = np.mean([v[key] for v in values], axis=0)
        est, low, high = stratified_bootstrap([mean_items[m] for m in masks], weights, self.stats)
        sd = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
        half = sps.t.ppf(0.975, len(per_seed) - 1) * sd / len(per_seed) ** 0.5 if len(per_seed) > 1 else 0.0
        t = (100 * est - half, 100 * est + half)
        return {"mean": 100 * est, "boot": (100 * low, 100 * high), "sd": sd, "t": t, "seeds": per_seed}


METRICS = ("5% gap", "never-together acc", "lowest-bin acc", "GenPairs acc", "swap", "replace")


def tables(scores: Scores, correct: dict[str, dict[int, dict[str, np.ndarray]]]) -> str:
    """The levels of every model and the paired contrasts, as markdown; a contrast of two arms
    pairs the seeds both finished (the base's one report pairs with every seed)."""
    lines = ["| model | seeds | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    for name, by_seed in correct.items():
        estimates = [scores.estimate(list(by_seed.values()), m) for m in METRICS]
        cells = [f"{e['mean']:.1f} ± {e['sd']:.1f}" for e in estimates]
        lines.append(f"| {name} | {len(by_seed)} | " + " | ".join(cells) + " |")
    lines += ["", "Paired differences, mean over seeds [item bootstrap 95% CI] {t 95% CI over seeds}:", ""]
    lines += ["| contrast | seeds | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    for label, a, b in CONTRASTS:
        mine = set(correct.get(a, {}))
        seeds = sorted(mine if b == "base" else mine & set(correct.get(b, {})))
        if not seeds:
            continue
        other = {s: correct["base"][0] for s in seeds} if b == "base" else correct[b]
        diffs = [{k: correct[a][s][k] - other[s][k] for k in correct[a][s]} for s in seeds]
        cells = []
        for metric in METRICS:
            e = scores.estimate(diffs, metric)
            cells.append(f"{e['mean']:+.1f} [{e['boot'][0]:+.1f}, {e['boot'][1]:+.1f}] "
                         f"{{{e['t'][0]:+.1f}, {e['t'][1]:+.1f}}}")  # fmt: skip
        lines.append(f"| {label} | {len(seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), metavar="ARM")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench" / "gap")
    parser.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--finetune-n", type=int, default=4000, help="images per fine-tuning set")
    parser.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs")
    parser.add_argument("--per-stratum", type=int, default=500, help="GenPairs images per PMI stratum")
    parser.add_argument("--single-per-class", type=int, default=100)
    parser.add_argument("--per-subset", type=int, default=500, help="compositional items per subset")
    parser.add_argument("--jobs", type=int, default=1, help="fine-tuning runs at once (1 thread each)")
    parser.add_argument(
        "--report-only", action="store_true", help="train nothing: tabulate the runs already finished"
    )
    args = parser.parse_args()
    params = yaml.safe_load(args.params.read_text())
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"{json.dumps(vars(args), default=str)}\nload {os.getloadavg()[0]:.1f}", flush=True)
    jobs = [(name, seed) for seed in args.seeds for name in args.arms]
    if not args.report_only:
        runner = Runner(work, params, work / "commands.log")
        paths = prepare(runner, args)
        for seed in args.seeds:
            changes = {"train.seed": seed, "train.optim.epochs": args.epochs, "train.threads": 1,
                       "train.checkpoint_every": 0}  # fmt: skip
            paths[f"train-seed{seed}"] = runner.params_file(f"train-seed{seed}", changes)
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(lambda job: train_arm(runner, paths, *job), jobs))
    scores = Scores(work / "report-base", StatsConfig(**params["evaluate"]["stats"]))
    correct: dict[str, dict] = defaultdict(dict)
    correct["base"][0] = scores.correct(work / "report-base")
    for name, seed in jobs:
        report = work / f"seed{seed}" / _slug(name) / "report"
        if (report / MARKER).is_file():
            correct[name][seed] = scores.correct(report)
    print(f"load {os.getloadavg()[0]:.1f}\n\n{tables(scores, dict(correct))}")


if __name__ == "__main__":
    main()
