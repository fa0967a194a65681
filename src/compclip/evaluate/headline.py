"""The few numbers that answer the question of a report, flat, for a KFP Metrics artifact and the
top of the HTML reports.

``headline_metrics(metrics)`` for one model's ``metrics.json``: per zero-shot set its accuracy,
Pearson r and 5% gap with its CI; per benchmark its mean subset accuracy; per compositional family
(swap, replace, add) its mean accuracy. ``compare_headline(result)`` for a ``compare.json``: per
tuned model the change of each zero-shot accuracy and gap and of each family, with its paired CI.
``log_metrics`` puts either on a Kubeflow Metrics artifact.
Only finite numbers: an undefined r is left out.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from compclip.evaluate.families import select

ZEROSHOT = re.compile(r"zeroshot/(?P<set>[^/]+)/(?P<metric>acc|pearson_r|gap|gap_ci_low|gap_ci_high)")
BENCHMARK_MEAN = re.compile(r"(?P<family>sugarcrepe|valse|aro)/(?P<subset>[^/]+)/acc")
CHANGED = re.compile(r"zeroshot/(?P<name>[^/]+/(acc|gap))|compositional/(?P<family>[^/]+)/mean_acc")


def _finite(values: dict) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def headline_metrics(metrics: dict) -> dict[str, float]:
    """One model's headline from its flat ``metrics.json``."""
    out: dict[str, float] = {}
    subsets: dict[str, list[float]] = {}
    for key, value in sorted(metrics.items()):
        if match := ZEROSHOT.fullmatch(key):
            out[f"{match['set']}/{match['metric']}"] = value
        elif (match := BENCHMARK_MEAN.fullmatch(key)) and match["subset"] != "mean" and value is not None:
            subsets.setdefault(match["family"], []).append(value)
    out |= {f"{family}/acc": sum(accs) / len(accs) for family, accs in subsets.items()}
    out |= {
        k.removesuffix("/mean_acc"): v for k, v in select(metrics).items() if k.startswith("compositional/")
    }
    return _finite(out)


def compare_headline(result: dict) -> dict[str, float]:
    """Each tuned model's changes from the baseline with their paired CI, from ``compare.json``."""
    out: dict[str, float] = {}
    for model, changes in result["paired"].items():
        for key, change in changes.items():
            if match := CHANGED.fullmatch(key):
                name = f"{model}/{match['name'] or match['family']}"
                out |= {
                    f"{name}/change": change["change"],
                    f"{name}/ci_low": change["ci_low"],
                    f"{name}/ci_high": change["ci_high"],
                }
    return _finite(out)


def log_metrics(headline: dict[str, float], metrics) -> None:
    """Log ``headline`` on a Kubeflow ``Metrics`` artifact and write it as the artifact's file too:
    an artifact without a file is a cache miss for kfp's local runner."""
    for key, value in headline.items():
        metrics.log_metric(key, value)
    Path(metrics.path).write_text(json.dumps(headline, indent=2, sort_keys=True))
