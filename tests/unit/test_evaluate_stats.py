"""Binning, correlations and the tail gap on hand-checked cases."""

import math

import numpy as np
import pytest

from compclip.evaluate.stats import (
    StatsConfig,
    correlations,
    equal_count_bins,
    finite_pmi,
    pmi_metrics,
    tail_gap,
)


def test_equal_count_bins_by_hand():
    pmi = np.array([9, 0, 8, 1, 7, 2, 6, 3, 5, 4], dtype=float)  # shuffled 0..9
    correct = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0])  # by pmi 0..9: 0 0 0 1 0 0 1 1 1 1
    bins = equal_count_bins(pmi, correct, 5)
    assert bins.count.tolist() == [2, 2, 2, 2, 2]
    assert bins.pmi_mean.tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert bins.accuracy.tolist() == [0.0, 0.5, 0.0, 1.0, 1.0]
    assert bins.pmi_min.tolist() == [0, 2, 4, 6, 8] and bins.pmi_max.tolist() == [1, 3, 5, 7, 9]


def test_bins_differ_by_at_most_one_and_never_exceed_items():
    bins = equal_count_bins(np.arange(7.0), np.ones(7), 3)
    assert bins.count.tolist() == [3, 2, 2]
    assert len(equal_count_bins(np.arange(3.0), np.ones(3), 10).count) == 3


def test_neg_inf_sorts_lowest_and_gets_a_finite_stand_in():
    pmi = np.array([2.0, -np.inf, 0.5, -np.inf, 1.0, 3.0])
    assert finite_pmi(pmi).tolist() == [2.0, -0.5, 0.5, -0.5, 1.0, 3.0]
    bins = equal_count_bins(pmi, np.array([1, 0, 0, 0, 1, 1]), 3)
    assert bins.pmi_min[0] == -np.inf and bins.pmi_max[0] == -np.inf
    assert bins.pmi_mean.tolist() == [-0.5, 0.75, 2.5]
    assert bins.accuracy.tolist() == [0.0, 0.5, 1.0]
    assert finite_pmi(np.array([-np.inf, -np.inf])).tolist() == [0.0, 0.0]


def test_nan_pmi_is_refused():
    with pytest.raises(ValueError):
        equal_count_bins(np.array([0.0, np.nan]), np.array([1, 0]), 2)


def test_correlations_by_hand():
    # x = 1,2,3 ; y = 1,3,2: Pearson = 0.5, Spearman = 0.5
    pearson, spearman = correlations(np.array([1.0, 2, 3]), np.array([1.0, 3, 2]))
    assert pearson == pytest.approx(0.5) and spearman == pytest.approx(0.5)
    # monotone but not linear: Spearman 1; Pearson = 1.4 / sqrt(5 * 0.5) from the centred sums
    pearson, spearman = correlations(np.array([0.0, 1, 2, 3]), np.array([0.0, 0.1, 0.2, 0.9]))
    assert spearman == pytest.approx(1.0) and pearson == pytest.approx(1.4 / np.sqrt(2.5))
    assert all(math.isnan(r) for r in correlations(np.arange(4.0), np.ones(4)))


def test_tail_gap_by_hand_and_bootstrap_bounds():
    pmi = np.arange(100.0)
    correct = np.zeros(100)
    correct[95:] = 1  # top 5% all right
    correct[:5] = [1, 0, 0, 0, 0]  # bottom 5%: 1 of 5
    gap = tail_gap(pmi, correct, StatsConfig(n_boot=500, seed=3))
    assert gap.n_tail == 5
    assert gap.acc_low == pytest.approx(0.2) and gap.acc_high == 1.0 and gap.gap == pytest.approx(0.8)
    assert 0.4 <= gap.ci_low <= gap.gap <= gap.ci_high == pytest.approx(1.0)
    again = tail_gap(pmi, correct, StatsConfig(n_boot=500, seed=3))
    assert (again.ci_low, again.ci_high) == (gap.ci_low, gap.ci_high)


def test_tail_gap_constant_tails_have_a_zero_width_ci():
    gap = tail_gap(np.arange(40.0), np.r_[np.zeros(20), np.ones(20)], StatsConfig(tail_share=0.1))
    assert gap.n_tail == 4 and (gap.gap, gap.ci_low, gap.ci_high) == (1.0, 1.0, 1.0)


def test_pmi_metrics_counts_neg_inf_and_correlates():
    pmi = np.r_[np.full(10, -np.inf), np.arange(90.0)]
    correct = (np.arange(100) >= 50).astype(float)
    metrics, bins = pmi_metrics(pmi, correct, StatsConfig(n_bins=10, n_boot=100))
    assert metrics["n_neg_inf"] == 10 and metrics["n_bins"] == 10
    assert bins.accuracy.tolist() == [0.0] * 5 + [1.0] * 5
    # ranks 1..10 against a 0/1 step at the middle: 12.5 / sqrt(82.5 * 2.5)
    assert metrics["spearman_r"] == pytest.approx(12.5 / np.sqrt(82.5 * 2.5))
    assert metrics["gap"] == 1.0
