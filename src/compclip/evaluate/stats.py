"""Accuracy against PMI: equal-count bins, correlations across bins, and the tail gap with a bootstrap CI.

Pure functions over numpy arrays. PMI may be ``-inf`` (a pair that never co-occurs): such items
sort below every finite PMI, so they fall in the lowest bin and the bottom tail. Where a number
is needed (a bin's mean PMI for Pearson r), ``-inf`` is replaced by a finite stand-in, the smallest
finite PMI minus one (:func:`finite_pmi`); Spearman r only uses ranks and is unaffected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class StatsConfig:
    """How accuracy is related to PMI."""

    n_bins: int = 10
    tail_share: float = 0.05
    n_boot: int = 1000
    ci: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class Bins:
    """Equal-count PMI bins: per bin its item count, PMI range, mean PMI (finite stand-in) and accuracy."""

    count: np.ndarray
    pmi_min: np.ndarray
    pmi_max: np.ndarray
    pmi_mean: np.ndarray
    accuracy: np.ndarray

    def rows(self) -> list[dict[str, float]]:
        return [
            {"bin": i, "count": int(c), "pmi_min": float(lo), "pmi_max": float(hi), "pmi_mean": float(m),
             "accuracy": float(a)}
            for i, (c, lo, hi, m, a) in enumerate(
                zip(self.count, self.pmi_min, self.pmi_max, self.pmi_mean, self.accuracy, strict=True)
            )
        ]  # fmt: skip


@dataclass(frozen=True)
class Gap:
    """Accuracy of the highest-PMI tail minus the lowest-PMI tail, with a percentile bootstrap CI."""

    gap: float
    ci_low: float
    ci_high: float
    acc_low: float
    acc_high: float
    n_tail: int


def finite_pmi(pmi: np.ndarray) -> np.ndarray:
    """PMI with ``-inf`` replaced by the smallest finite value minus one (0 if none is finite)."""
    pmi = np.asarray(pmi, dtype=float)
    finite = pmi[np.isfinite(pmi)]
    stand_in = finite.min() - 1.0 if finite.size else 0.0
    return np.where(np.isneginf(pmi), stand_in, pmi)


def pmi_order(pmi: np.ndarray) -> np.ndarray:
    """Indices sorting items by PMI ascending (``-inf`` first; ties keep input order)."""
    pmi = np.asarray(pmi, dtype=float)
    if np.isnan(pmi).any() or np.isposinf(pmi).any():
        raise ValueError("PMI must be finite or -inf")
    return np.argsort(pmi, kind="stable")


def equal_count_bins(pmi: np.ndarray, correct: np.ndarray, n_bins: int) -> Bins:
    """Split items sorted by PMI into ``min(n_bins, n)`` bins whose sizes differ by at most one."""
    correct = np.asarray(correct, dtype=float)
    if len(correct) == 0:
        raise ValueError("no items to bin")
    order = pmi_order(pmi)
    stand_in = finite_pmi(pmi)
    raw = np.asarray(pmi, dtype=float)
    groups = np.array_split(order, min(n_bins, len(order)))
    return Bins(
        count=np.array([len(g) for g in groups]),
        pmi_min=np.array([raw[g].min() for g in groups]),
        pmi_max=np.array([raw[g].max() for g in groups]),
        pmi_mean=np.array([stand_in[g].mean() for g in groups]),
        accuracy=np.array([correct[g].mean() for g in groups]),
    )


def correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson and Spearman r; NaN when fewer than 3 points or either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    return float(sps.pearsonr(x, y).statistic), float(sps.spearmanr(x, y).statistic)


def tails(pmi: np.ndarray, n_tail: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n_tail`` lowest-PMI and the ``n_tail`` highest-PMI items."""
    order = pmi_order(pmi)
    return order[:n_tail], order[len(order) - n_tail :]


def tail_size(n: int, share: float) -> int:
    """``max(1, round(share * n))`` items per tail, at most half of them (0 when n < 2)."""
    return min(max(1, round(share * n)), n // 2)


RESAMPLE_CHUNK = 1 << 22  # indices drawn at once (32 MiB): memory stays flat on large sets


def _resampled_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_boot`` resamples of ``values``, drawn in row chunks (the same draws as one
    ``(n_boot, n)`` call)."""
    rows = max(1, RESAMPLE_CHUNK // len(values))
    return np.concatenate([
        values[rng.integers(0, len(values), (min(rows, n_boot - start), len(values)))].mean(axis=1)
        for start in range(0, n_boot, rows)
    ])  # fmt: skip


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


def tail_gap(pmi: np.ndarray, correct: np.ndarray, config: StatsConfig) -> Gap:
    """Accuracy(top ``tail_share`` by PMI) - accuracy(bottom share), bootstrapped within each tail.

    Each tail holds :func:`tail_size` items. The CI resamples items with replacement inside each
    tail ``n_boot`` times with ``seed``.
    """
    correct = np.asarray(correct, dtype=float)
    n_tail = tail_size(len(correct), config.tail_share)
    if n_tail == 0:
        return Gap(math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    low, high = (correct[t] for t in tails(pmi, n_tail))
    gap, ci_low, ci_high = stratified_bootstrap([low, high], [-1.0, 1.0], config)
    return Gap(gap, ci_low, ci_high, float(low.mean()), float(high.mean()), n_tail)


def pmi_metrics(pmi: np.ndarray, correct: np.ndarray, config: StatsConfig) -> tuple[dict, Bins]:
    """The flat PMI metrics (bin correlations and tail gap) and the bins they came from."""
    bins = equal_count_bins(pmi, correct, config.n_bins)
    pearson, spearman = correlations(bins.pmi_mean, bins.accuracy)
    gap = tail_gap(pmi, correct, config)
    metrics = {
        "n_bins": len(bins.count), "pearson_r": pearson, "spearman_r": spearman,
        "gap": gap.gap, "gap_ci_low": gap.ci_low, "gap_ci_high": gap.ci_high,
        "acc_low_tail": gap.acc_low, "acc_high_tail": gap.acc_high, "n_tail": gap.n_tail,
        "n_neg_inf": int(np.isneginf(np.asarray(pmi, dtype=float)).sum()),
    }  # fmt: skip
    return metrics, bins
