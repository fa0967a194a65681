"""(class, concept) pairs from a real PMI table, spread evenly over PMI strata.

PMI(class, concept) is the mean PMI of the concept with each concept of the class name (``-inf``
when any of them never occurs with it). Every (class, candidate) pair is scored at once, split
into strata by :func:`compclip.evalsets.strata.assign_strata` (never together: stratum 0; the rest
by equal-count PMI rank) and :func:`~compclip.evalsets.strata.allocate` picks ``per_stratum`` pairs
of each stratum (each pair once: a stratum with fewer pairs gives all it has).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compclip.evalsets.strata import allocate, assign_strata
from compclip.genpairs.vocabulary import ClassConcepts
from compclip.pmi import PMITable
from compclip.pmi.pairs import tri_index
from compclip.pmi.table import pmi_values


@dataclass(frozen=True)
class Pair:
    pair_id: str
    label: str  # the class name
    concept: str
    pmi: float
    stratum: int


def pmi_row(table: PMITable, i: int, others: np.ndarray) -> np.ndarray:
    """PMI of concept id ``i`` with each id of ``others`` (none equal to ``i``), vectorised."""
    v = len(table.names)
    keys = tri_index(np.minimum(i, others), np.maximum(i, others), v)
    pos = np.clip(np.searchsorted(table.keys, keys), 0, max(len(table.keys) - 1, 0))
    found = (table.keys[pos] == keys) if len(table.keys) else np.zeros(len(keys), bool)
    n12 = np.where(found, table.pair_counts[pos] if len(table.keys) else 0, 0)
    return pmi_values(n12, table.words[i], table.words[others], table.n_captions, table.smoothing)


def class_pmi(table: PMITable, cls: ClassConcepts, candidates: np.ndarray) -> np.ndarray:
    """Mean over the class's concepts of their PMI with each candidate id."""
    return np.mean([pmi_row(table, table.index[c], candidates) for c in cls.concepts], axis=0)


def select_pairs(
    table: PMITable,
    classes: list[ClassConcepts],
    candidates: list[str],
    n_strata: int,
    per_stratum: int,
    seed: int,
) -> list[Pair]:
    """``per_stratum`` distinct pairs per PMI stratum, ordered by stratum, with ids ``pair-000000``..."""
    ids = np.array([table.index[c] for c in candidates], dtype=np.int64)
    labels, concepts, values = [], [], []
    for cls in classes:
        own = np.isin(ids, [table.index[c] for c in cls.concepts])
        keep = ids[~own]
        labels.append(np.full(len(keep), len(labels)))
        concepts.append(np.flatnonzero(~own))
        values.append(class_pmi(table, cls, keep))
    if not values:
        return []
    label, concept, pmi = (np.concatenate(x) for x in (labels, concepts, values))
    strata = assign_strata(pmi, n_strata)
    chosen = allocate(strata, per_stratum, np.random.default_rng([seed, 17]))
    _, first = np.unique(chosen, return_index=True)
    chosen = chosen[np.sort(first)]
    return [
        Pair(f"pair-{k:06d}", classes[label[p]].name, candidates[concept[p]], float(pmi[p]), int(strata[p]))
        for k, p in enumerate(chosen)
    ]
