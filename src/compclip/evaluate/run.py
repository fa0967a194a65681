"""``evaluate``: one model against zero-shot eval sets and compositional benchmarks, into one folder.

``evaluate(model, zeroshot, benchmarks, out, config)``: every input and ``out`` a URI (local path or
``s3://``); the report is staged locally and published whole on success.

Writes ``metrics.json`` (flat), ``results/<benchmark>.parquet`` (one row per scored image),
``bins.json`` (PMI bins per eval set), ``plots/*.png``, ``report.html`` and, for COCO/Flickr-Order,
the stored perturbations ``aro/<subset>.json``.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from compclip.config import Checked, PositiveInt, Share
from compclip.errors import UserError
from compclip.evaluate import report
from compclip.evaluate.benchmarks import aro, order, sugarcrepe, valse
from compclip.evaluate.benchmarks.common import Item
from compclip.evaluate.benchmarks.score import score_items, subset_metrics
from compclip.evaluate.encode import Encoder, RuntimeConfig
from compclip.evaluate.results import results_file
from compclip.evaluate.stats import StatsConfig
from compclip.evaluate.zeroshot import evaluate_zeroshot, load_evalset
from compclip.models import load_model
from compclip.models.loading import WEIGHTS
from compclip.outputs import local_out
from compclip.rejects import Rejects
from compclip.storage import (
    local_dir,
    local_path,
    uri_name,
    write_json,
    write_parquet,
)

log = logging.getLogger(__name__)


BENCHMARKS = (
    "sugarcrepe", "valse", "aro_vg_relation", "aro_vg_attribution", "aro_coco_order", "aro_flickr_order",
)  # fmt: skip


@dataclass(frozen=True)
class Benchmark:
    """One compositional benchmark's inputs, as URIs: its annotations (file or folder) and image root."""

    annotations: str
    images: str


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """How to evaluate (settings only; what to evaluate and where to write are arguments)."""

    valse_min_votes: PositiveInt = 2
    order_seed: int = 0
    order_max_images: PositiveInt | None = None
    max_reject_share: Share = 0.01  # share of a benchmark's records (e.g. unreadable images) it may drop
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)


Loader = Callable[[Path, Path, Rejects], tuple[list[Item], int]]


def loader(name: str, config: EvaluateConfig, out: Path) -> Loader:
    """The loader of benchmark ``name``; COCO/Flickr-Order store their perturbations under ``out/aro``."""

    def order_loader(subset: str) -> Loader:
        return lambda a, r, rej: order.load(
            a, r, rej, subset, config.order_seed, out / "aro" / f"{subset}.json", config.order_max_images
        )

    def valse_loader(a: Path, r: Path, rej: Rejects) -> tuple[list[Item], int]:
        items, n_seen, dropped = valse.load(a, r, rej, config.valse_min_votes)
        log.info("VALSE: dropped for fewer than %d caption votes: %s", config.valse_min_votes, dropped)
        return items, n_seen

    loaders = {
        "sugarcrepe": sugarcrepe.load,
        "valse": valse_loader,
        "aro_vg_relation": lambda a, r, rej: aro.load(a, r, rej, "vg_relation"),
        "aro_vg_attribution": lambda a, r, rej: aro.load(a, r, rej, "vg_attribution"),
        "aro_coco_order": order_loader("coco_order"),
        "aro_flickr_order": order_loader("flickr_order"),
    }
    return loaders[name]


def model_label(model: str, info: dict) -> str:
    """How a report names its model: a folder (local or s3://) by its last path part and the sha256
    of its weights, other sources as given; never where it was read from."""
    weights = info.get("files", {}).get(WEIGHTS)
    return f"{uri_name(model)} (weights sha256 {weights[:12]})" if weights else model


def parse_benchmarks(given: Mapping[str, Any]) -> dict[str, Benchmark]:
    """``name -> Benchmark`` from ``{name: {"annotations": URI, "images": ROOT}}`` (the pipeline's
    ``benchmarks`` parameter, e.g. ``{"sugarcrepe": {"annotations": "s3://b/sugarcrepe", "images":
    "s3://coco/val2017"}}``); an unknown benchmark or a missing field is an error."""
    chosen = {}
    for name, spec in sorted(given.items()):
        if name not in BENCHMARKS:
            raise UserError(f"benchmarks: unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
        if not isinstance(spec, dict) or not all(
            isinstance(spec.get(k), str) for k in ("annotations", "images")
        ):
            raise UserError(f"benchmarks.{name}: give {{annotations: URI, images: ROOT}}, got {spec!r}")
        chosen[name] = Benchmark(spec["annotations"], spec["images"])
    return chosen


def evaluate(
    model: str,
    zeroshot: Sequence[str],
    benchmarks: Mapping[str, Benchmark],
    out: str,
    config: EvaluateConfig = EvaluateConfig(),
) -> dict[str, float]:
    """Evaluate ``model`` on the zero-shot eval set folders and the compositional ``benchmarks``
    (``name -> Benchmark``, names from :data:`BENCHMARKS`); every input and ``out`` a local path or
    s3:// URI. Writes the report folder ``out`` in one step on success; returns the flat metrics."""
    unknown = sorted(set(benchmarks) - set(BENCHMARKS))
    if unknown:
        raise UserError(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    if not zeroshot and not benchmarks:
        raise UserError("nothing to evaluate: give --zeroshot and/or a benchmark with its image root")
    bundle = load_model(model)
    label = model_label(model, bundle.info)
    encoder = Encoder(bundle, config.runtime)
    log.info("evaluating %s on %s (batch %d, %s)", model, encoder.device, config.runtime.batch_size,
             config.runtime.precision)  # fmt: skip
    metrics: dict[str, float] = {}
    tables: dict[str, pa.Table] = {}
    bins: dict[str, dict] = {}
    with local_out(out) as staged:
        for folder in zeroshot:
            rejects = Rejects()
            with local_dir(folder) as local:
                evalset = load_evalset(local, uri_name(folder))
                result = evaluate_zeroshot(encoder, evalset, rejects, config.stats)
            rejects.check(result.n_seen, config.max_reject_share, f"zeroshot {folder}")
            key = f"zeroshot/{evalset.name}"
            metrics.update(_prefixed(key, result.metrics, rejects, result.n_seen))
            tables[key] = result.results
            if result.bins is not None:
                bins[evalset.name] = result.bins.rows()
        families: dict[str, list[pa.Table]] = defaultdict(list)
        family_rejects: dict[str, Rejects] = defaultdict(Rejects)
        family_seen: dict[str, int] = defaultdict(int)
        for name, inputs in benchmarks.items():
            rejects = Rejects()
            with local_path(inputs.annotations) as annotations, local_path(inputs.images) as images:
                items, n_seen = loader(name, config, staged)(annotations, images, rejects)
                if not items:
                    raise UserError(
                        f"{name} {inputs.annotations}: no usable items ({rejects.as_dict() or 'none read'})"
                    )
                results = score_items(encoder, items, rejects, name, images)
            rejects.check(n_seen, config.max_reject_share, f"{name} {inputs.annotations}")
            family = name.split("_")[0]
            families[family].append(results)
            family_rejects[family].update(rejects)
            family_seen[family] += n_seen
        for family, parts in families.items():
            tables[family] = pa.concat_tables(parts)
            values = {**subset_metrics(tables[family]), "n": len(tables[family])}
            metrics.update(_prefixed(family, values, family_rejects[family], family_seen[family]))
        write_outputs(staged, label, config, metrics, tables, bins)
    return metrics


def _prefixed(key: str, values: dict[str, float], rejects: Rejects, n_seen: int) -> dict[str, float]:
    """``key/<metric>``, ``rejects/key/<reason>`` and ``key/dropped_share`` (rejected records / read)."""
    rejected = {f"rejects/{key}/{k}": v for k, v in rejects.as_dict().items()}
    dropped = {f"{key}/dropped_share": rejects.total / n_seen if n_seen else 0.0}
    return {**{f"{key}/{k}": v for k, v in values.items()}, **dropped, **rejected}


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_outputs(
    out: Path, label: str, config: EvaluateConfig, metrics: dict, tables: dict[str, pa.Table], bins: dict
) -> None:
    """metrics.json, per-image parquet files, bins.json, plots and the HTML report."""
    (out / "results").mkdir(parents=True, exist_ok=True)
    for key, table in tables.items():
        write_parquet(results_file(out, key), table)
    # strict JSON: NaN and -inf become null (a -inf PMI bound means pairs that never co-occur)
    write_json(out / "metrics.json", _finite(metrics))
    write_json(out / "bins.json", _finite(bins), sort_keys=False)
    plots = report.write_plots(out / "plots", metrics, bins)
    report.write_html(out / "report.html", label, metrics, bins, plots, asdict(config))
    log.info("wrote %s: %d metrics, %d result tables, %d plots", out, len(metrics), len(tables), len(plots))
