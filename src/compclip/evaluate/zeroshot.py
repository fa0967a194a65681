"""Zero-shot classification of an eval set, each image's correctness joined with its pair's PMI.

An eval set folder holds ``evalset.json`` (``{"kind": "zeroshot", "name", "classes": [...]}``,
optionally ``"templates"``) and ``items.parquet`` (``id, image, label`` and optionally
``accessory, pmi, stratum``, and ``clean_image``: an edited image's unedited one). With a
``shard`` (and ``clean_shard``) column the images are members of the set's image shards
(:mod:`compclip.shards`), else files of the folder (the older layout). The classifier of a class
is the normalised mean of the normalised text embeddings of the class over the prompt templates
(``templates.yaml``, unless the eval set carries its own).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from compclip.dataset import CLEAN_SHARD, SHARD
from compclip.errors import UserError
from compclip.evaluate.encode import Encoder, ImageRef, existing, image_refs
from compclip.evaluate.results import TAIL_COLUMN, pmi_values, single_objects
from compclip.evaluate.stats import Bins, StatsConfig, pmi_metrics, tails, tie_keys
from compclip.files import read_json, read_parquet
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

TEMPLATES_FILE = Path(__file__).parent / "templates.yaml"
REQUIRED = ("id", "image", "label")
OPTIONAL = ("accessory", "pmi", "stratum")


@dataclass(frozen=True)
class EvalSet:
    name: str
    folder: Path
    classes: tuple[str, ...]
    templates: tuple[str, ...]
    items: pa.Table


@dataclass(frozen=True)
class ZeroShotResult:
    metrics: dict[str, float]
    results: pa.Table
    bins: Bins | None
    n_seen: int


def default_templates() -> tuple[str, ...]:
    return tuple(yaml.safe_load(TEMPLATES_FILE.read_text())["templates"])


def check_templates(templates: tuple[str, ...], where: str) -> tuple[str, ...]:
    bad = [t for t in templates if not isinstance(t, str) or t.count("{}") != 1]
    if not templates or bad:
        raise UserError(
            f"{where}: templates must be a non-empty list of strings with one '{{}}' (bad: {bad})"
        )
    return templates


def load_evalset(folder: Path, fallback_name: str | None = None) -> EvalSet:
    """Read and check an eval set folder's header and item table; a header without a name takes
    ``fallback_name`` (else the folder's name)."""
    header_path, items_path = folder / "evalset.json", folder / "items.parquet"
    for path in (header_path, items_path):
        if not path.is_file():
            raise UserError(f"{folder}: not a zero-shot eval set (no {path.name})")
    header = read_json(header_path, required=("kind",))
    if header.get("kind") != "zeroshot":
        raise UserError(f"{header_path}: kind is {header.get('kind')!r}, expected 'zeroshot'")
    classes = header.get("classes")
    if not isinstance(classes, list) or not classes:
        raise UserError(f"{header_path}: 'classes' must be a non-empty list")
    templates = check_templates(tuple(header.get("templates") or default_templates()), str(header_path))
    items = read_parquet(items_path)
    if len(items) == 0:
        raise UserError(f"{items_path}: no items (an empty eval set)")
    missing = [c for c in REQUIRED if c not in items.column_names]
    if missing:
        raise UserError(f"{items_path}: missing columns {missing}; has {items.column_names}")
    for column in OPTIONAL:
        if column not in items.column_names:
            items = items.append_column(
                column, pa.nulls(len(items), pa.float64() if column == "pmi" else None)
            )
    name = header.get("name") or fallback_name or folder.name
    return EvalSet(name, folder, tuple(map(str, classes)), templates, items)


def table_refs(
    evalset: EvalSet, table: pa.Table, column: str, shard: str, rejects: Rejects
) -> list[ImageRef | None]:
    """The image of each row of ``table`` named by ``column`` (None where empty or unreadable), in the
    image shard named by ``shard`` when the set has that column (read in one pass; an unreadable one
    counted: :func:`~compclip.evaluate.encode.image_refs`)."""
    paths = table.column(column).to_pylist()
    shards = table.column(shard).to_pylist() if shard in table.column_names else [None] * len(paths)
    have = [i for i, path in enumerate(paths) if path]
    refs = image_refs(evalset.folder, [{"image": paths[i], SHARD: shards[i]} for i in have], rejects)
    out: list[ImageRef | None] = [None] * len(paths)
    for i, ref in zip(have, refs, strict=True):
        out[i] = ref
    return out


def class_weights(encoder: Encoder, classes: tuple[str, ...], templates: tuple[str, ...]) -> np.ndarray:
    """``(n_classes, dim)``: per class the normalised mean of its normalised template embeddings."""
    texts = [template.format(name) for name in classes for template in templates]
    mean = encoder.texts(texts).reshape(len(classes), len(templates), -1).mean(axis=1)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def usable_rows(evalset: EvalSet, rejects: Rejects) -> np.ndarray:
    """Mask of rows with an image, a known label and a PMI that is a number or -inf (others counted)."""
    columns = evalset.items.to_pydict()
    known = set(evalset.classes)
    keep = np.ones(len(evalset.items), dtype=bool)
    for i, (image, label, pmi) in enumerate(
        zip(columns["image"], columns["label"], columns["pmi"], strict=True)
    ):
        where = f"{evalset.name}:{columns['id'][i]}"
        reason = (
            "no_image" if not image
            else "no_label" if label is None
            else "unknown_label" if label not in known
            else "bad_pmi" if pmi is not None and (np.isnan(pmi) or pmi == np.inf)
            else None
        )  # fmt: skip
        if reason:
            rejects.add(reason, where)
            keep[i] = False
    return keep


def evaluate_zeroshot(
    encoder: Encoder, evalset: EvalSet, rejects: Rejects, stats: StatsConfig
) -> ZeroShotResult:
    """Accuracy, PMI bins, correlations and tail gap of one eval set, plus per-image results."""
    keep = usable_rows(evalset, rejects)
    table = evalset.items.filter(pa.array(keep))
    refs = table_refs(evalset, table, "image", SHARD, rejects)
    table = table.filter(pa.array([ref is not None for ref in refs]))
    refs = [ref for ref in refs if ref is not None]
    found = existing(refs, rejects, evalset.name, evalset.folder)
    table = table.filter(pa.array(found))
    embeddings, ok = encoder.images([r for r, f in zip(refs, found, strict=True) if f], rejects)
    table = table.filter(pa.array(ok))
    if len(table) == 0:
        raise UserError(f"{evalset.name}: no usable items left ({rejects.as_dict()})")
    weights = class_weights(encoder, evalset.classes, evalset.templates)
    predicted = np.asarray(evalset.classes)[(embeddings[ok] @ weights.T).argmax(axis=1)]
    correct = predicted == np.asarray(table.column("label").to_pylist())
    table = table.append_column("predicted", pa.array(predicted)).append_column("correct", pa.array(correct))
    if "clean_image" in table.column_names:
        clean = clean_correct(encoder, evalset, table, weights, rejects)
        table = table.append_column("clean_correct", pa.array(clean, pa.bool_()))
    return ZeroShotResult(*summarize(table, stats), n_seen=len(evalset.items))


def clean_correct(
    encoder: Encoder, evalset: EvalSet, table: pa.Table, weights: np.ndarray, rejects: Rejects
) -> list[bool | None]:
    """Per item whether its unedited image (``clean_image``, e.g. ImageNet-paste's base image) is
    classified right; None where it has none or it cannot be read (counted)."""
    refs = table_refs(evalset, table, "clean_image", CLEAN_SHARD, rejects)
    labels = table.column("label").to_pylist()
    out: list[bool | None] = [None] * len(refs)
    have = [i for i, ref in enumerate(refs) if ref is not None]
    refs = [refs[i] for i in have]
    found = existing(refs, rejects, f"{evalset.name} clean images", evalset.folder) if refs else []
    refs = [r for r, f in zip(refs, found, strict=True) if f]
    have = [i for i, f in zip(have, found, strict=True) if f]
    embeddings, ok = encoder.images(refs, rejects) if refs else (None, np.zeros(0, bool))
    if ok.any():
        predicted = np.asarray(evalset.classes)[(embeddings[ok] @ weights.T).argmax(axis=1)]
        for i, guess in zip(np.asarray(have)[ok], predicted, strict=True):
            out[i] = bool(guess == labels[i])
    return out


def summarize(table: pa.Table, stats: StatsConfig) -> tuple[dict[str, float], pa.Table, Bins | None]:
    """Flat metrics of a results table (``id``, ``correct``, ``pmi``, ``accessory``, ``stratum``
    columns); the table comes back with a ``pmi_tail`` column naming each item's gap tail."""
    correct = np.asarray(table.column("correct").to_pylist(), dtype=bool)
    metrics: dict[str, float] = {"n": len(correct), "acc": float(correct.mean())}
    single = single_objects(table)
    if single.any() and not single.all():
        metrics["single_object/acc"] = float(correct[single].mean())
        metrics["single_object/n"] = int(single.sum())
    pmi = pmi_values(table)
    has_pmi = ~np.isnan(pmi)
    bins = None
    tail = np.full(len(table), None, dtype=object)
    if has_pmi.sum() >= 2:
        keys = tie_keys(np.asarray(table.column("id").to_pylist(), dtype=object)[has_pmi], stats.seed)
        pmi_stats, bins = pmi_metrics(pmi[has_pmi], correct[has_pmi], keys, stats)
        metrics.update(pmi_stats, n_pmi=int(has_pmi.sum()))
        scored = np.flatnonzero(has_pmi)
        low, high = tails(pmi[has_pmi], keys, pmi_stats["n_tail"])
        tail[scored[low]], tail[scored[high]] = "low", "high"
    table = table.append_column(TAIL_COLUMN, pa.array(tail.tolist(), pa.string()))
    clean = _clean(table)
    if (~np.isnan(clean)).any():  # the accuracy drop against the unedited images
        both = ~np.isnan(clean)
        metrics["clean/acc"] = float(clean[both].mean())
        metrics["clean/drop"] = metrics["clean/acc"] - float(correct[both].mean())
    strata = table.column("stratum").to_pylist()
    for stratum in sorted({s for s in strata if s is not None}):
        mask = np.asarray([s == stratum for s in strata])
        metrics[f"stratum/{stratum}/acc"] = float(correct[mask].mean())
        both = mask & ~np.isnan(clean)
        if both.any():
            metrics[f"stratum/{stratum}/clean_acc"] = float(clean[both].mean())
            metrics[f"stratum/{stratum}/drop"] = float(clean[both].mean() - correct[both].mean())
    return metrics, table, bins


def _clean(table: pa.Table) -> np.ndarray:
    """``clean_correct`` as 1/0, NaN where an item has no judged unedited image (or no such column)."""
    if "clean_correct" not in table.column_names:
        return np.full(len(table), np.nan)
    return np.array([np.nan if c is None else float(c) for c in table.column("clean_correct").to_pylist()])
