"""Which metrics a comparison shows, and the compositional family (swap, replace, add) of a subset."""

from __future__ import annotations

import re
from collections import defaultdict

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


def select(metrics: dict[str, float]) -> dict[str, float]:
    """The compared metrics of one report, plus the mean accuracy of each compositional family."""
    chosen = {k: v for pattern in ROWS for k, v in sorted(metrics.items()) if re.fullmatch(pattern, k)}
    families = defaultdict(list)
    for key, value in chosen.items():
        if re.fullmatch(SUBSET_ACC, key) and value is not None and (family := family_of(key.split("/")[1])):
            families[family].append(value)
    for family in FAMILIES:
        if families[family]:
            chosen[f"compositional/{family}/mean_acc"] = sum(families[family]) / len(families[family])
    return chosen


def family_of(subset: str) -> str | None:
    """The compositional family (swap, replace, add) of a benchmark subset, if any."""
    return next((family for family, prefix in FAMILIES.items() if subset.startswith(prefix)), None)
