"""``evaluate``: one model against zero-shot eval sets and compositional benchmarks, into one folder.

Writes ``metrics.json`` (flat), ``results/<benchmark>.parquet`` (one row per scored image),
``bins.json`` (PMI bins per eval set), ``plots/*.png``, ``report.html`` and, for COCO/Flickr-Order,
the stored perturbations ``aro/<subset>.json``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

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
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, local_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    """What to evaluate and how. Each benchmark runs when its annotations and image root are given."""

    model: str = "compclip-tiny-rn"
    out: str = "out/evaluate"
    zeroshot: tuple[str, ...] = ()
    sugarcrepe: str | None = None
    sugarcrepe_images: str | None = None
    valse: str | None = None
    valse_images: str | None = None
    valse_min_votes: int = 2
    aro_relation: str | None = None
    aro_attribution: str | None = None
    aro_images: str | None = None
    coco_order: str | None = None
    coco_order_images: str | None = None
    flickr_order: str | None = None
    flickr_order_images: str | None = None
    order_seed: int = 0
    order_max_images: int | None = None
    max_reject_share: float = 1.0
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)


Loader = Callable[[Path, Path, Rejects], tuple[list[Item], int]]


def benchmark_loaders(config: EvaluateConfig, out: Path) -> dict[str, tuple[str, str, Loader]]:
    """``name -> (annotations, image root, loader)`` for every benchmark the config names."""

    def order_loader(subset: str) -> Loader:
        return lambda a, r, rej: order.load(
            a, r, rej, subset, config.order_seed, out / "aro" / f"{subset}.json", config.order_max_images
        )  # fmt: skip

    def valse_loader(a: Path, r: Path, rej: Rejects) -> tuple[list[Item], int]:
        items, n_seen, dropped = valse.load(a, r, rej, config.valse_min_votes)
        log.info("VALSE: dropped for fewer than %d caption votes: %s", config.valse_min_votes, dropped)
        return items, n_seen

    candidates = {
        "sugarcrepe": (config.sugarcrepe, config.sugarcrepe_images, sugarcrepe.load),
        "valse": (config.valse, config.valse_images, valse_loader),
        "aro_vg_relation": (config.aro_relation, config.aro_images,
                            lambda a, r, rej: aro.load(a, r, rej, "vg_relation")),
        "aro_vg_attribution": (config.aro_attribution, config.aro_images,
                               lambda a, r, rej: aro.load(a, r, rej, "vg_attribution")),
        "aro_coco_order": (config.coco_order, config.coco_order_images, order_loader("coco_order")),
        "aro_flickr_order": (config.flickr_order, config.flickr_order_images, order_loader("flickr_order")),
    }  # fmt: skip
    chosen = {}
    for name, (source, images, loader) in candidates.items():
        if (source is None) != (images is None):
            raise UserError(f"{name}: give both its annotations and its image root")
        if source is not None:
            chosen[name] = (source, images, loader)
    return chosen


def evaluate(config: EvaluateConfig) -> dict[str, float]:
    """Run every configured evaluation; write the outputs to ``config.out``; return the flat metrics."""
    out = Path(config.out)
    loaders = benchmark_loaders(config, out)
    if not config.zeroshot and not loaders:
        raise UserError("nothing to evaluate: give --zeroshot and/or a benchmark with its image root")
    bundle = load_model(config.model)
    encoder = Encoder(bundle, config.runtime)
    log.info("evaluating %s on %s (batch %d, %s)", config.model, encoder.device, config.runtime.batch_size,
             config.runtime.precision)  # fmt: skip
    metrics: dict[str, float] = {}
    tables: dict[str, pa.Table] = {}
    bins: dict[str, list[dict]] = {}
    for folder in config.zeroshot:
        rejects = Rejects()
        with local_dir(folder) as local:
            evalset = load_evalset(local)
            result = evaluate_zeroshot(encoder, evalset, rejects, config.stats)
        rejects.check(result.n_seen, config.max_reject_share, f"zeroshot {folder}")
        key = f"zeroshot/{evalset.name}"
        metrics.update(_prefixed(key, result.metrics, rejects))
        tables[key] = result.results
        if result.bins is not None:
            bins[evalset.name] = result.bins.rows()
    families: dict[str, list[pa.Table]] = defaultdict(list)
    family_rejects: dict[str, Rejects] = defaultdict(Rejects)
    for name, (source, images, loader) in loaders.items():
        rejects = Rejects()
        items, n_seen = loader(Path(source), Path(images), rejects)
        if not items:
            raise UserError(f"{name} {source}: no usable items ({rejects.as_dict() or 'none read'})")
        results = score_items(encoder, items, rejects, name, Path(images))
        rejects.check(n_seen, config.max_reject_share, f"{name} {source}")
        family = name.split("_")[0]
        families[family].append(results)
        family_rejects[family].update(rejects)
    for family, parts in families.items():
        tables[family] = pa.concat_tables(parts)
        metrics.update(_prefixed(family, subset_metrics(tables[family]), family_rejects[family]))
    write_outputs(out, config, metrics, tables, bins)
    return metrics


def _prefixed(key: str, values: dict[str, float], rejects: Rejects) -> dict[str, float]:
    rejected = {f"rejects/{key}/{k}": v for k, v in rejects.as_dict().items()}
    return {**{f"{key}/{k}": v for k, v in values.items()}, **rejected}


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json(value) -> bytes:
    """Strict JSON: NaN and -inf become null (a bin's -inf PMI bound means pairs that never co-occur)."""
    return (json.dumps(_finite(value), indent=2, allow_nan=False) + "\n").encode()


def write_outputs(
    out: Path, config: EvaluateConfig, metrics: dict, tables: dict[str, pa.Table], bins: dict[str, list[dict]]
) -> None:
    """metrics.json, per-image parquet files, bins.json, plots and the HTML report."""
    (out / "results").mkdir(parents=True, exist_ok=True)
    for key, table in tables.items():
        pq.write_table(table, results_file(out, key))
    atomic_write_bytes(out / "metrics.json", _json(dict(sorted(metrics.items()))))
    atomic_write_bytes(out / "bins.json", _json(bins))
    plots = report.write_plots(out / "plots", metrics, bins)
    report.write_html(out / "report.html", config.model, metrics, bins, plots, asdict(config))
    log.info("wrote %s: %d metrics, %d result tables, %d plots", out, len(metrics), len(tables), len(plots))
