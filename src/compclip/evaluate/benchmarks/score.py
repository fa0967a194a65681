"""Image-to-text scoring of benchmark items: correct when the positive caption beats every negative."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from compclip.evaluate.benchmarks.common import Item
from compclip.evaluate.encode import Encoder, existing
from compclip.rejects import Rejects


def score_items(
    encoder: Encoder, items: Sequence[Item], rejects: Rejects, source: str, root: Path
) -> pa.Table:
    """Per item with a readable image: positive score, best negative score and correctness (the
    image named relative to the image ``root``, so the table does not depend on where it was read)."""
    found = existing([item.image for item in items], rejects, source, root)
    items = [item for item, f in zip(items, found, strict=True) if f]
    embeddings, ok = encoder.images([item.image for item in items], rejects)
    items = [item for item, good in zip(items, ok, strict=True) if good]
    embeddings = embeddings[ok]
    texts = encoder.texts([t for item in items for t in (item.positive, *item.negatives)])
    positive, best_negative, start = np.empty(len(items)), np.empty(len(items)), 0
    for i, item in enumerate(items):
        scores = texts[start : start + 1 + len(item.negatives)] @ embeddings[i]
        positive[i], best_negative[i] = scores[0], scores[1:].max()
        start += 1 + len(item.negatives)
    return pa.table(
        {
            "id": [item.id for item in items],
            "subset": [item.subset for item in items],
            "group": [item.group for item in items],
            "image": [os.path.relpath(item.image.path, root) for item in items],
            "positive": [item.positive for item in items],
            "n_negatives": [len(item.negatives) for item in items],
            "positive_score": positive,
            "best_negative_score": best_negative,
            "correct": positive > best_negative,
        }
    )


def subset_metrics(results: pa.Table) -> dict[str, float]:
    """Per subset: ``<subset>/acc``, ``<subset>/n`` and ``<subset>/macro_acc`` (mean over groups)."""
    metrics: dict[str, float] = {}
    for subset in sorted(set(results.column("subset").to_pylist())):
        rows = results.filter(pc.equal(results.column("subset"), subset))
        correct = np.asarray(rows.column("correct").to_pylist(), dtype=float)
        groups = np.asarray(rows.column("group").to_pylist())
        metrics[f"{subset}/acc"] = float(correct.mean())
        metrics[f"{subset}/n"] = len(correct)
        if len(set(groups)) > 1:
            metrics[f"{subset}/macro_acc"] = float(
                np.mean([correct[groups == g].mean() for g in set(groups)])
            )
    if len({k for k in metrics if k.endswith("/acc")}) > 1:
        metrics["mean/acc"] = float(np.mean([v for k, v in metrics.items() if k.endswith("/acc")]))
    return metrics
