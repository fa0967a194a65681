"""PMI strata and the even allocation of images over them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from compclip.evalsets import allocate, assign_strata


def test_never_together_is_its_own_lowest_stratum_and_the_rest_are_equal_count():
    rng = np.random.default_rng(0)
    pmi = np.concatenate([rng.normal(size=53), np.full(7, -np.inf)])
    rng.shuffle(pmi)
    strata = assign_strata(pmi, 10)
    assert set(strata[np.isneginf(pmi)]) == {0} and (strata[np.isfinite(pmi)] > 0).all()
    sizes = Counter(strata[strata > 0].tolist())
    assert len(sizes) == 10 and max(sizes.values()) - min(sizes.values()) <= 1
    order = np.argsort(pmi[np.isfinite(pmi)])
    assert (np.diff(strata[np.isfinite(pmi)][order]) >= 0).all()  # strata rise with PMI


def test_strata_reject_nan_and_shrink_to_the_number_of_pairs():
    with pytest.raises(ValueError):
        assign_strata(np.array([0.1, np.nan]), 10)
    assert sorted(assign_strata(np.array([0.3, -1.0, 2.0]), 10)) == [1, 2, 3]


def test_allocation_gives_each_stratum_the_same_images_and_each_pair_its_share():
    strata = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    chosen = allocate(strata, 10, np.random.default_rng(0))
    assert Counter(strata[chosen].tolist()) == {0: 10, 1: 10, 2: 10}
    per_pair = Counter(chosen.tolist())
    for stratum in (0, 1, 2):
        counts = [per_pair[p] for p in np.flatnonzero(strata == stratum)]
        assert max(counts) - min(counts) <= 1 and min(counts) >= 1
