"""Accuracy against PMI: equal-count bins, correlations across bins, and the tail gap with a bootstrap CI.

Pure functions over numpy arrays. PMI may be ``-inf``: a pair that never co-occurs in the corpus.
No finite stand-in is invented for it, so no statistic depends on an arbitrary constant:

- **bins and r** cover the items with a finite PMI only (equal-count bins, Pearson and Spearman r
  between bin mean PMI and bin accuracy); the ``-inf`` items are reported as a row of their own
  ("never together": count, accuracy, CI);
- **the tail gap** only needs an order, and ``-inf`` sorts below every finite PMI, so those items
  take part in the bottom tail.

Items with equal PMI (every image of one concept pair shares it) are ordered by a seeded
pseudo-random key of their id (:func:`tie_keys`), not by file order: which tied items fall into a
bin or a tail is a seeded shuffle, the same whatever order the rows come in.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from scipy import stats as sps

from compclip.config import Checked, PositiveInt, Range


@dataclass(frozen=True)
class StatsConfig(Checked):
    """How accuracy is related to PMI (``seed`` seeds the tie-break shuffle and the bootstrap)."""

    n_bins: Annotated[int, Range(2)] = 10
    tail_share: Annotated[float, Range(0, 0.5, open_low=True)] = 0.05
    n_boot: PositiveInt = 1000
    ci: Annotated[float, Range(0, 1, open_low=True, open_high=True)] = 0.95  # 0.95 for 95%
    seed: int = 0


@dataclass(frozen=True)
class Group:
    """A set of items: count, accuracy and its Wilson score interval."""

    count: int
    accuracy: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Bins:
    """Equal-count bins of the finite-PMI items (per bin: count, PMI range and mean, accuracy with
    its Wilson interval) and the items that never co-occur (``never``, None when there are none)."""

    count: np.ndarray
    pmi_min: np.ndarray
    pmi_max: np.ndarray
    pmi_mean: np.ndarray
    accuracy: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    never: Group | None

    def rows(self) -> dict:
        """JSON-ready: ``{"bins": [per finite bin], "never_together": {...} or None}``."""
        columns = (
            self.count,
            self.pmi_min,
            self.pmi_max,
            self.pmi_mean,
            self.accuracy,
            self.ci_low,
            self.ci_high,
        )
        bins = [
            {
                "bin": i,
                "count": int(c),
                "pmi_min": float(lo),
                "pmi_max": float(hi),
                "pmi_mean": float(m),
                "accuracy": float(a),
                "ci_low": float(cl),
                "ci_high": float(ch),
            }
            for i, (c, lo, hi, m, a, cl, ch) in enumerate(zip(*columns, strict=True))
        ]
        never = None if self.never is None else vars(self.never) | {"count": int(self.never.count)}
        return {"bins": bins, "never_together": never}


@dataclass(frozen=True)
class Gap:
    """Accuracy of the highest-PMI tail minus the lowest-PMI tail, with a percentile bootstrap CI."""

    gap: float
    ci_low: float
    ci_high: float
    acc_low: float
    acc_high: float
    n_tail: int


def tie_keys(ids: Iterable, seed: int) -> np.ndarray:
    """A pseudo-random 64-bit key per item id, fixed by ``seed``: the order of items with equal PMI."""
    digests = (hashlib.blake2b(f"{seed}\0{i}".encode(), digest_size=8).digest() for i in ids)
    return np.array([int.from_bytes(d, "big") for d in digests], dtype=np.uint64)


def pmi_order(pmi: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Indices sorting items by PMI ascending (``-inf`` first), equal PMI by ``keys``."""
    pmi = np.asarray(pmi, dtype=float)
    if np.isnan(pmi).any() or np.isposinf(pmi).any():
        raise ValueError("PMI must be finite or -inf")
    if len(keys) != len(pmi):
        raise ValueError(f"{len(keys)} tie keys for {len(pmi)} items")
    return np.lexsort((keys, pmi))


def wilson(correct: np.ndarray, ci: float) -> tuple[float, float]:
    """Wilson score interval of the share of true values in ``correct`` at level ``ci``."""
    n = len(correct)
    p, z = float(np.mean(correct)), float(sps.norm.ppf(1 - (1 - ci) / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # the interval holds p; at p = 0 or 1 rounding can put its end 1e-17 past it (a negative error bar)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def group(correct: np.ndarray, ci: float) -> Group:
    return Group(len(correct), float(np.mean(correct)), *wilson(correct, ci))


def equal_count_bins(
    pmi: np.ndarray, correct: np.ndarray, keys: np.ndarray, n_bins: int, ci: float = 0.95
) -> Bins:
    """Bin the finite-PMI items, sorted by PMI, into ``min(n_bins, n)`` bins whose sizes differ by
    at most one; the ``-inf`` items form ``never``."""
    pmi, correct = np.asarray(pmi, dtype=float), np.asarray(correct, dtype=float)
    if len(correct) == 0:
        raise ValueError("no items to bin")
    order = pmi_order(pmi, keys)
    never = np.isneginf(pmi)
    finite = order[~never[order]]
    groups = np.array_split(finite, min(n_bins, len(finite))) if len(finite) else []
    stats = [group(correct[g], ci) for g in groups]
    return Bins(
        count=np.array([len(g) for g in groups], dtype=int),
        pmi_min=np.array([pmi[g].min() for g in groups]),
        pmi_max=np.array([pmi[g].max() for g in groups]),
        pmi_mean=np.array([pmi[g].mean() for g in groups]),
        accuracy=np.array([s.accuracy for s in stats]),
        ci_low=np.array([s.ci_low for s in stats]),
        ci_high=np.array([s.ci_high for s in stats]),
        never=group(correct[never], ci) if never.any() else None,
    )


def correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman r; NaN when fewer than 3 points or either side is constant.

    Spearman r ranks tied values by their average rank (bins with equal accuracy share a rank).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    return float(sps.pearsonr(x, y).statistic), float(sps.spearmanr(x, y).statistic)


def tails(pmi: np.ndarray, keys: np.ndarray, n_tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n_tail`` lowest-PMI and the ``n_tail`` highest-PMI items (ties by ``keys``)."""
    order = pmi_order(pmi, keys)
    return order[:n_tail], order[len(order) - n_tail :]


def tail_size(n: int, share: float) -> int:
    """``max(1, round(share * n))`` items per tail, at most half of them (0 when n < 2)."""
    return min(max(1, round(share * n)), n // 2)


RESAMPLE_CHUNK = 1 << 22  # indices drawn at once (32 MiB): memory stays flat on large sets


def _resampled_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples of ``values``, drawn in row chunks (the same draws as one
    ``(n_boot, n)`` call)."""
    rows = max(1, RESAMPLE_CHUNK // len(values))
    return np.concatenate(
        [
            values[rng.integers(0, len(values), (min(rows, n_boot - start), len(values)))].mean(axis=1)
            for start in range(0, n_boot, rows)
        ]
    )


def stratified_bootstrap(
    strata: Sequence[np.ndarray], weights: Sequence[float], config: StatsConfig
) -> tuple[float, float, float]:
    """``sum(w * mean(stratum))`` and its percentile bootstrap CI.

    Each of ``config.n_boot`` replicates resamples every stratum's values with replacement, in
    stratum order, from one generator seeded with ``config.seed``.
    """
    if not strata or any(len(s) == 0 for s in strata):
        raise ValueError("every stratum needs at least one value")
    rng = np.random.default_rng(config.seed)
    estimate = sum(w * float(np.mean(s)) for s, w in zip(strata, weights, strict=True))
    boot = sum(w * _resampled_means(s, config.n_boot, rng) for s, w in zip(strata, weights, strict=True))
    alpha = (1 - config.ci) / 2
    ci_low, ci_high = np.quantile(boot, [alpha, 1 - alpha])
    return estimate, float(ci_low), float(ci_high)


def tail_gap(pmi: np.ndarray, correct: np.ndarray, keys: np.ndarray, config: StatsConfig) -> Gap:
    """Accuracy(top ``tail_share`` by PMI) - accuracy(bottom share), bootstrapped within each tail.

    Each tail holds :func:`tail_size` items, ties at its edge chosen by ``keys``. The CI resamples
    items with replacement inside each tail ``n_boot`` times with ``seed``.
    """
    correct = np.asarray(correct, dtype=float)
    n_tail = tail_size(len(correct), config.tail_share)
    if n_tail == 0:
        return Gap(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    low, high = (correct[t] for t in tails(pmi, keys, n_tail))
    gap, ci_low, ci_high = stratified_bootstrap([low, high], [-1.0, 1.0], config)
    return Gap(gap, ci_low, ci_high, float(low.mean()), float(high.mean()), n_tail)


def pmi_metrics(
    pmi: np.ndarray, correct: np.ndarray, keys: np.ndarray, config: StatsConfig
) -> tuple[dict, Bins]:
    """The flat PMI metrics and the bins they came from: r across the finite-PMI bins, the
    never-together items' count and accuracy, and the tail gap over every item."""
    bins = equal_count_bins(pmi, correct, keys, config.n_bins, config.ci)
    pearson, spearman = correlations(bins.pmi_mean, bins.accuracy)
    gap = tail_gap(pmi, correct, keys, config)
    metrics = {
        "n_bins": len(bins.count),
        "pearson_r": pearson,
        "spearman_r": spearman,
        "gap": gap.gap,
        "gap_ci_low": gap.ci_low,
        "gap_ci_high": gap.ci_high,
        "acc_low_tail": gap.acc_low,
        "acc_high_tail": gap.acc_high,
        "n_tail": gap.n_tail,
        "never_together/n": 0 if bins.never is None else bins.never.count,
    }
    if bins.never is not None:
        metrics["never_together/acc"] = bins.never.accuracy
    return metrics, bins
