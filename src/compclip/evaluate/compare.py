"""Compare evaluation reports side by side: the evidence that a tuned model beats its base.

Reads the ``metrics.json`` of several ``compclip evaluate`` folders (local or s3://) and writes
``compare.json`` (the selected metrics per model, each model's difference from the first, the
baseline, and each data set's size and dropped share), ``compare.md`` (the same as tables) and
``compare.html`` (forest plot of the changes, accuracy against PMI overlaid, then the tables).

Where two reports scored the same items (their ``results/*.parquet`` hold the same ids), each
difference of an accuracy, a PMI tail gap or a family mean also gets a paired bootstrap CI: every
replicate resamples the items once and scores both models on them, so what the two models share
(the items' difficulty) cancels out. That is the test of "the tuned model is better on these
items"; two separately bootstrapped CIs can overlap while the paired one excludes zero.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow as pa

from compclip.errors import UserError
from compclip.evaluate import compare_report
from compclip.evaluate.families import SUBSET_ACC, ZEROSHOT_ACC, family_of, select
from compclip.evaluate.results import TAIL_COLUMN, read_results, single_objects, tail_masks
from compclip.evaluate.stats import StatsConfig, stratified_bootstrap
from compclip.files import read_json
from compclip.outputs import local_out
from compclip.storage import atomic_write_bytes, local_dir, write_json

log = logging.getLogger(__name__)

DROPPED = re.compile(r"(?P<key>zeroshot/[^/]+|sugarcrepe|valse|aro)/dropped_share")


def read_metrics(folder: Path, uri: str) -> dict[str, float]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise UserError(f"{uri}: no metrics.json; run `compclip evaluate --out {uri}` first")
    return read_json(path)


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
            if (family := family_of(subset)) is not None:
                families[family].append(diff[subsets == subset])
    for family, strata in families.items():
        weights = [1 / len(strata)] * len(strata)
        changes[f"compositional/{family}/mean_acc"] = _interval(strata, weights, config)
    return changes


def compare(reports: Mapping[str, str], out: str, config: StatsConfig | None = None) -> dict:
    """Compare ``name -> report folder`` (local or s3://), the first being the baseline; write
    compare.json, compare.md and compare.html to ``out`` (local or s3://) in one step on success.

    ``config`` sets the paired bootstrap (resamples, CI level, seed).
    """
    if len(reports) < 2:
        raise UserError("compare needs at least two reports")
    config = config or StatsConfig()
    with ExitStack() as stack:
        folders = {name: stack.enter_context(local_dir(uri)) for name, uri in reports.items()}
        raw = {name: read_metrics(folder, reports[name]) for name, folder in folders.items()}
        selected = {name: select(metrics) for name, metrics in raw.items()}
        base_name = next(iter(selected))
        keys = list(dict.fromkeys(k for values in selected.values() for k in values))
        delta = {
            name: {k: _sub(values.get(k), selected[base_name].get(k)) for k in keys}
            for name, values in selected.items()
            if name != base_name
        }
        paired = {
            name: paired_changes(folders[base_name], folder, raw[base_name], config)
            for name, folder in folders.items()
            if name != base_name
        }
        bins = {name: _read_bins(folder) for name, folder in folders.items()}
    result = {
        "baseline": base_name,
        "ci": config.ci,
        "metrics": selected,
        "delta": delta,
        "paired": paired,
        "data": {name: data_sizes(metrics) for name, metrics in raw.items()},
    }
    with local_out(out) as staged:
        write_json(staged / "compare.json", result, sort_keys=False)
        atomic_write_bytes(staged / "compare.md", compare_report.markdown(result).encode())
        compare_report.write_html(staged, result, bins)
    return result


def data_sizes(metrics: dict) -> dict[str, dict[str, float]]:
    """Per zero-shot set and benchmark of one report: items scored (``n``) and records dropped (share)."""
    return {
        match["key"]: {"n": metrics.get(f"{match['key']}/n"), "dropped_share": value}
        for key, value in sorted(metrics.items())
        if (match := DROPPED.fullmatch(key))
    }


def _read_bins(folder: Path) -> dict:
    path = folder / "bins.json"
    return read_json(path) if path.is_file() else {}


def _sub(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a - b
