"""PMI strata of concept pairs and an even allocation of images over them (pure numpy)."""

from __future__ import annotations

import numpy as np


def assign_strata(pmi: np.ndarray, n_strata: int) -> np.ndarray:
    """Stratum of each pair: 0 when PMI is -inf (never together), else 1..n by equal-count PMI rank.

    ``pmi`` must hold no NaN. Ties are broken by input order, so strata sizes differ by at most one.
    """
    if np.isnan(pmi).any():
        raise ValueError("PMI values must not be NaN")
    strata = np.zeros(len(pmi), dtype=np.int64)
    finite = np.flatnonzero(np.isfinite(pmi))
    order = finite[np.argsort(pmi[finite], kind="stable")]
    for stratum, chunk in enumerate(np.array_split(order, min(n_strata, len(order))), start=1):
        strata[chunk] = stratum
    return strata


def allocate(strata: np.ndarray, per_stratum: int, rng: np.random.Generator) -> np.ndarray:
    """Pair index of each image: ``per_stratum`` images per non-empty stratum, spread over its pairs.

    Inside a stratum every pair gets ``per_stratum // m`` or one more image (the extras go to
    randomly chosen pairs). Images are ordered by stratum.
    """
    chosen = []
    for stratum in np.unique(strata):
        pairs = rng.permutation(np.flatnonzero(strata == stratum))
        chosen.append(np.resize(pairs, per_stratum))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
