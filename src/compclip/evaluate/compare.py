"""Compare evaluation reports side by side: the evidence that a tuned model beats its base.

Reads the ``metrics.json`` of several ``compclip evaluate`` folders and writes
``compare.json`` (the selected metrics per model, and each model's difference from the first,
the baseline) and ``compare.md`` (the same as a table).

Where two reports scored the same items (their ``results/*.parquet`` hold the same ids), each
difference of an accuracy, a PMI tail gap or a family mean also gets a paired bootstrap CI: every
replicate resamples the items once and scores both models on them, so what the two models share
(the items' difficulty) cancels out. That is the test of "the tuned model is better on these
items"; two separately bootstrapped CIs can overlap while the paired one excludes zero.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from compclip.errors import UserError
from compclip.evaluate.results import TAIL_COLUMN, read_results, single_objects, tail_masks
from compclip.evaluate.stats import StatsConfig, stratified_bootstrap
from compclip.storage import atomic_write_bytes

log = logging.getLogger(__name__)

ZEROSHOT_ACC = r"zeroshot/[^/]+/acc"
SUBSET_ACC = r"(sugarcrepe|valse|aro)/[^/]+/acc"
# Metrics shown, in order: zero-shot accuracy and the PMI effect, then compositional accuracy.
ROWS = (
    ZEROSHOT_ACC,
    r"zeroshot/[^/]+/single_object/acc",
    r"zeroshot/[^/]+/pearson_r",
    r"zeroshot/[^/]+/gap",
    SUBSET_ACC,
)
FAMILIES = {"swap": "swap_", "replace": "replace_", "add": "add_"}


def read_metrics(folder: Path) -> dict[str, float]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise UserError(f"{folder}: no metrics.json; run `compclip evaluate --out {folder}` first")
    return json.loads(path.read_text())


def select(metrics: dict[str, float]) -> dict[str, float]:
    """The compared metrics of one report, plus the mean accuracy of each compositional family."""
    chosen = {k: v for pattern in ROWS for k, v in sorted(metrics.items()) if re.fullmatch(pattern, k)}
    families = defaultdict(list)
    for key, value in chosen.items():
        if re.fullmatch(SUBSET_ACC, key) and value is not None and (family := _family(key.split("/")[1])):
            families[family].append(value)
    for family in FAMILIES:
        if families[family]:
            chosen[f"compositional/{family}/mean_acc"] = sum(families[family]) / len(families[family])
    return chosen


def _family(subset: str) -> str | None:
    """The compositional family (swap, replace, add) of a benchmark subset, if any."""
    return next((family for family, prefix in FAMILIES.items() if subset.startswith(prefix)), None)


def _interval(strata: list[np.ndarray], weights: list[float], config: StatsConfig) -> dict[str, float]:
    change, low, high = stratified_bootstrap(strata, weights, config)
    return {"change": change, "ci_low": low, "ci_high": high, "n": int(sum(len(s) for s in strata))}


def _differences(base: Path, tuned: Path, key: str, columns: list[str]) -> tuple[pa.Table, np.ndarray] | None:
    """The base's ``columns`` of table ``key`` and, per item, tuned minus base correctness (0, +-1);
    None when either report lacks the table or they scored different items."""
    columns = ["id", "correct", *columns]
    ours, theirs = read_results(base, key, columns), read_results(tuned, key, columns)
    if ours is None or theirs is None:
        return None
    ids = ours.column("id").to_pylist()
    where = {item: i for i, item in enumerate(theirs.column("id").to_pylist())}
    if len(where) != len(ids) or set(where) != set(ids):
        log.warning("%s: %s and %s scored different items; no paired CI", key, base, tuned)
        return None
    correct = np.asarray(theirs.column("correct").to_pylist(), dtype=float)[[where[i] for i in ids]]
    return ours, correct - np.asarray(ours.column("correct").to_pylist(), dtype=float)


def paired_changes(base: Path, tuned: Path, base_metrics: dict, config: StatsConfig) -> dict[str, dict]:
    """Tuned minus base, with a paired bootstrap CI, for every compared metric both reports scored
    item by item: zero-shot accuracy (all items and single objects) and PMI tail gap (the base
    report's tails, its ``pmi_tail`` column), benchmark subset accuracy and the compositional family means."""
    changes: dict[str, dict] = {}
    families: dict[str, list[np.ndarray]] = defaultdict(list)
    tables = sorted({k.rsplit("/", 1)[0] for k in base_metrics if re.fullmatch(ZEROSHOT_ACC, k)})
    for key in tables:
        found = _differences(base, tuned, key, ["accessory", TAIL_COLUMN])
        if found is None:
            continue
        table, diff = found
        changes[f"{key}/acc"] = _interval([diff], [1.0], config)
        if f"{key}/single_object/acc" in base_metrics:
            changes[f"{key}/single_object/acc"] = _interval([diff[single_objects(table)]], [1.0], config)
        low, high = tail_masks(table)
        if low.any() and high.any():
            changes[f"{key}/gap"] = _interval([diff[low], diff[high]], [-1.0, 1.0], config)
    benchmarks = sorted({k.split("/")[0] for k in base_metrics if re.fullmatch(SUBSET_ACC, k)})
    for key in benchmarks:
        found = _differences(base, tuned, key, ["subset"])
        if found is None:
            continue
        table, diff = found
        subsets = np.asarray(table.column("subset").to_pylist())
        for subset in sorted(set(subsets)):
            changes[f"{key}/{subset}/acc"] = _interval([diff[subsets == subset]], [1.0], config)
            if (family := _family(subset)) is not None:
                families[family].append(diff[subsets == subset])
    for family, strata in families.items():
        weights = [1 / len(strata)] * len(strata)
        changes[f"compositional/{family}/mean_acc"] = _interval(strata, weights, config)
    return changes


def compare(reports: dict[str, Path], out: Path, config: StatsConfig | None = None) -> dict:
    """Write compare.json and compare.md for ``name -> report folder``; the first is the baseline.

    ``config`` sets the paired bootstrap (resamples, CI level, seed).
    """
    if len(reports) < 2:
        raise UserError("compare needs at least two reports")
    config = config or StatsConfig()
    raw = {name: read_metrics(folder) for name, folder in reports.items()}
    selected = {name: select(metrics) for name, metrics in raw.items()}
    base_name = next(iter(selected))
    keys = list(dict.fromkeys(k for values in selected.values() for k in values))
    delta = {
        name: {k: _sub(values.get(k), selected[base_name].get(k)) for k in keys}
        for name, values in selected.items()
        if name != base_name
    }
    paired = {
        name: paired_changes(reports[base_name], folder, raw[base_name], config)
        for name, folder in reports.items()
        if name != base_name
    }
    result = {"baseline": base_name, "ci": config.ci, "metrics": selected, "delta": delta, "paired": paired}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "compare.json", (json.dumps(result, indent=2) + "\n").encode())
    atomic_write_bytes(out / "compare.md", markdown(result, keys).encode())
    return result


def _sub(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a - b


def markdown(result: dict, keys: list[str]) -> str:
    names = list(result["metrics"])
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in keys:
        cells = []
        for name in names:
            value = result["metrics"][name].get(key)
            change = result["delta"].get(name, {}).get(key)
            interval = result["paired"].get(name, {}).get(key)
            cell = "-" if value is None else f"{value:.3f}"
            if change is not None:
                ci = "" if interval is None else f" [{interval['ci_low']:+.3f}, {interval['ci_high']:+.3f}]"
                cell += f" ({change:+.3f}{ci})"
            cells.append(cell)
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    note = f"Change from {names[0]} in parentheses; brackets: its {result['ci']:.0%} paired bootstrap CI."
    return "\n".join(lines) + "\n\n" + note + "\n"
