"""Binning, correlations and the tail gap on hand-checked cases; no constant, no file order."""

import math

import numpy as np
import pytest
import yaml

from compclip.errors import UserError
from compclip.evaluate.stats import (
    StatsConfig,
    correlations,
    equal_count_bins,
    pmi_metrics,
    tail_gap,
    tie_keys,
    wilson,
)


def keys(n):
    return np.arange(n, dtype=np.uint64)


def test_equal_count_bins_by_hand():
    pmi = np.array([9, 0, 8, 1, 7, 2, 6, 3, 5, 4], dtype=float)  # shuffled 0..9
    correct = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0])  # by pmi 0..9: 0 0 0 1 0 0 1 1 1 1
    bins = equal_count_bins(pmi, correct, keys(10), 5)
    assert bins.count.tolist() == [2, 2, 2, 2, 2]
    assert bins.pmi_mean.tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert bins.accuracy.tolist() == [0.0, 0.5, 0.0, 1.0, 1.0]
    assert bins.pmi_min.tolist() == [0, 2, 4, 6, 8] and bins.pmi_max.tolist() == [1, 3, 5, 7, 9]
    assert (
        bins.never is None and (bins.ci_low <= bins.accuracy).all() and (bins.accuracy <= bins.ci_high).all()
    )


def test_bins_differ_by_at_most_one_and_never_exceed_items():
    bins = equal_count_bins(np.arange(7.0), np.ones(7), keys(7), 3)
    assert bins.count.tolist() == [3, 2, 2]
    assert len(equal_count_bins(np.arange(3.0), np.ones(3), keys(3), 10).count) == 3


def test_never_together_items_are_their_own_row_not_a_bin():
    pmi = np.array([2.0, -np.inf, 0.5, -np.inf, 1.0, 3.0])
    bins = equal_count_bins(pmi, np.array([1, 0, 0, 1, 1, 1]), keys(6), 2)
    assert bins.count.tolist() == [2, 2] and bins.pmi_mean.tolist() == [0.75, 2.5]
    assert bins.accuracy.tolist() == [0.5, 1.0]
    assert bins.never.count == 2 and bins.never.accuracy == 0.5
    assert bins.rows()["never_together"]["count"] == 2 and len(bins.rows()["bins"]) == 2


def test_r_does_not_depend_on_the_log_base_or_on_never_together_items():
    # Pearson r is unchanged by rescaling x; a stand-in for -inf (min - 1) is not rescaled with it
    rng = np.random.default_rng(0)
    pmi = np.r_[np.full(200, -np.inf), rng.normal(0, 2, 800)]
    correct = np.r_[rng.random(200) < 0.1, rng.random(800) < 0.5 + 0.1 * np.tanh(pmi[200:])]
    k, config = keys(1000), StatsConfig(n_boot=10)
    natural, _ = pmi_metrics(pmi, correct, k, config)
    base2, _ = pmi_metrics(pmi / np.log(2), correct, k, config)
    finite_only, _ = pmi_metrics(pmi[200:], correct[200:], k[200:], config)
    assert natural["pearson_r"] == pytest.approx(base2["pearson_r"], abs=1e-12)
    assert natural["pearson_r"] == pytest.approx(finite_only["pearson_r"], abs=1e-12)
    assert natural["spearman_r"] == finite_only["spearman_r"]
    assert natural["never_together/n"] == 200 and natural["never_together/acc"] == correct[:200].mean()
    assert natural["gap"] != finite_only["gap"]  # the gap's bottom tail is never-together items


def test_ties_are_broken_by_a_seeded_shuffle_not_by_row_order():
    # 400 items, 8 PMI values: every tail and bin edge cuts through tied items
    rng = np.random.default_rng(1)
    pmi = np.repeat(np.r_[-np.inf, np.arange(7.0)], 50)
    correct = rng.random(400) < 0.5
    correct[:50] = np.arange(50) < 25  # the never-together rows: right first, wrong last
    ids = np.array([f"item{i}" for i in range(400)], dtype=object)
    config = StatsConfig(n_bins=3, n_boot=200, seed=0)
    first, bins = pmi_metrics(pmi, correct, tie_keys(ids, 0), config)
    perm = rng.permutation(400)
    again, bins_again = pmi_metrics(pmi[perm], correct[perm], tie_keys(ids[perm], 0), config)
    assert first == again and bins.accuracy.tolist() == bins_again.accuracy.tolist()
    assert 0 < first["acc_low_tail"] < 1  # not the first 20 rows of the file (all right)
    seeds = {tail_gap(pmi, correct, tie_keys(ids, s), config).acc_low for s in range(5)}
    assert len(seeds) > 1  # another seed draws other tied items into the tail


def test_tie_keys_depend_on_id_and_seed_only():
    assert tie_keys(["a", "b"], 3).tolist() == tie_keys(["a", "b"], 3).tolist()
    assert tie_keys(["b"], 3)[0] == tie_keys(["a", "b"], 3)[1]
    assert tie_keys(["a"], 3)[0] != tie_keys(["a"], 4)[0]


def test_nan_pmi_is_refused():
    with pytest.raises(ValueError):
        equal_count_bins(np.array([0.0, np.nan]), np.array([1, 0]), keys(2), 2)


def test_wilson_interval_by_hand():
    # 8 of 10 at 95%: centre (0.8 + 1.92^2/20) / (1 + 1.96^2/10), the textbook [0.490, 0.943]
    low, high = wilson(np.r_[np.ones(8), np.zeros(2)], 0.95)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(np.ones(5), 0.95)[1] == 1.0 and wilson(np.zeros(5), 0.95)[0] == 0.0


def test_wilson_interval_always_holds_the_share():
    """Rounding put the ends 1e-17 past a share of 0 or 1 (0 of 3 gave a low of 5.6e-17): a plot's
    error bar below zero, which matplotlib refuses."""
    for n in range(1, 60):
        for k in range(n + 1):
            low, high = wilson(np.r_[np.ones(k), np.zeros(n - k)], 0.95)
            assert 0.0 <= low <= k / n <= high <= 1.0, (k, n)


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
    gap = tail_gap(pmi, correct, keys(100), StatsConfig(n_boot=500, seed=3))
    assert gap.n_tail == 5
    assert gap.acc_low == pytest.approx(0.2) and gap.acc_high == 1.0 and gap.gap == pytest.approx(0.8)
    assert 0.4 <= gap.ci_low <= gap.gap <= gap.ci_high == pytest.approx(1.0)
    again = tail_gap(pmi, correct, keys(100), StatsConfig(n_boot=500, seed=3))
    assert (again.ci_low, again.ci_high) == (gap.ci_low, gap.ci_high)


def test_tail_gap_constant_tails_have_a_zero_width_ci():
    gap = tail_gap(np.arange(40.0), np.r_[np.zeros(20), np.ones(20)], keys(40), StatsConfig(tail_share=0.1))
    assert gap.n_tail == 4 and (gap.gap, gap.ci_low, gap.ci_high) == (1.0, 1.0, 1.0)


def test_pmi_metrics_correlates_over_finite_bins():
    pmi = np.r_[np.full(10, -np.inf), np.arange(90.0)]
    correct = (np.arange(100) >= 55).astype(float)  # finite items 45.. right
    metrics, bins = pmi_metrics(pmi, correct, keys(100), StatsConfig(n_bins=9, n_boot=100))
    assert metrics["never_together/n"] == 10 and metrics["n_bins"] == 9
    assert bins.accuracy.tolist() == [0.0] * 4 + [0.5] + [1.0] * 4
    # ranks 1..9 against 0,0,0,0,.5,1,1,1,1 (ties averaged: 2.5 and 7.5)
    assert metrics["spearman_r"] == pytest.approx(
        np.corrcoef(np.arange(9), [2.5] * 4 + [5] + [7.5] * 4)[0, 1]
    )
    assert metrics["gap"] == 1.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ci": 95}, r"stats\.ci: must be in \(0, 1\), got 95"),
        ({"tail_share": 0.7}, r"tail_share: must be in \(0, 0\.5\]"),
        ({"n_bins": 1}, "n_bins: must be >= 2"),
    ],
)
def test_stats_settings_out_of_range_are_refused(tmp_path, values, message):
    from compclip.config import load_section
    from compclip.evaluate.stats import StatsConfig

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"evaluate": {"stats": values}}))
    with pytest.raises(UserError, match=message):
        load_section(StatsConfig, params, "evaluate.stats")
