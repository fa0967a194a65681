"""The few numbers a dashboard (the Kubeflow UI's Metrics) shows, from a report or a comparison.

A report's headline is each zero-shot set's accuracy, Pearson r across PMI bins and the gap
between the lowest and highest 5% of PMI, and each compositional family's mean accuracy. A
comparison's headline is, for every tuned model, the change of those numbers from the baseline
with its paired bootstrap CI.
"""

from __future__ import annotations

import math
import re

from compclip.evaluate.compare import select

HEADLINE = r"zeroshot/[^/]+/(acc|pearson_r|gap)|compositional/[^/]+/mean_acc"


def report_headline(metrics: dict[str, float]) -> dict[str, float]:
    """The headline numbers of one ``metrics.json`` (finite values only)."""
    return {k: float(v) for k, v in select(metrics).items() if re.fullmatch(HEADLINE, k) and _finite(v)}


def compare_headline(result: dict) -> dict[str, float]:
    """``MODEL/METRIC/change``, ``.../ci_low`` and ``.../ci_high`` of a ``compare.json``, per tuned model."""
    flat = {}
    for name, changes in result["paired"].items():
        for key, interval in sorted(changes.items()):
            if not re.fullmatch(HEADLINE, key):
                continue
            for part in ("change", "ci_low", "ci_high"):
                if _finite(interval.get(part)):
                    flat[f"{name}/{key}/{part}"] = float(interval[part])
    return flat


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
