"""The PMI table: files on disk and the :class:`PMITable` that answers questions about them.

A table folder (local or ``s3://``) holds:

- ``concepts.parquet``: ``concept`` (sorted), ``count`` = captions containing it
  (plus ``marginal`` in ``released-code`` mode);
- ``pairs.parquet``: ``c1 < c2``, ``count`` = captions containing both (> 0), ``pmi``;
- ``header.json``: everything needed to reproduce it (corpus fingerprint, extraction rules,
  stopword list and WordNet versions, min count, mode, log base, smoothing, rejects).

PMI (mode ``exact``) = ln(P(c1,c2) / (P(c1) P(c2))) with P(c) = count/N and N the number of
valid captions. Pairs that never co-occur are -inf unless add-k smoothing is set, in which
case PMI = ln((n12 + k) N / (n1 n2)) for every pair. Mode ``released-code`` reproduces the
released code: ln(T/(T-1) (n12 + 1) / ((m1 + 1000)(m2 + 1000))), with m the pair marginals and
T = 3.2e9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from compclip.errors import UserError
from compclip.files import read_json, read_parquet
from compclip.pmi.concepts import ConceptRules
from compclip.pmi.pairs import tri_index, tri_pairs
from compclip.storage import local_dir, write_json, write_parquet

HEADER, CONCEPTS, PAIRS = "header.json", "concepts.parquet", "pairs.parquet"
FORMAT = "compclip-pmi-v1"
RELEASED_T = 3.2e9
RELEASED_WORD_SMOOTHING = 1000.0
RELEASED_PAIR_SMOOTHING = 1.0


@dataclass(frozen=True)
class Smoothing:
    mode: str = "exact"  # or "released-code"
    pair_k: float = 0.0


def pmi_values(n12: np.ndarray, n1: np.ndarray, n2: np.ndarray, n: int, smoothing: Smoothing) -> np.ndarray:
    """PMI from counts (vectorised); see the module docstring for the formulas."""
    n12, n1, n2 = (np.asarray(x, np.float64) for x in (n12, n1, n2))
    with np.errstate(divide="ignore"):
        if smoothing.mode == "released-code":
            const = RELEASED_T / (RELEASED_T - 1)
            words = (n1 + RELEASED_WORD_SMOOTHING) * (n2 + RELEASED_WORD_SMOOTHING)
            return np.log(const * (n12 + RELEASED_PAIR_SMOOTHING) / words)
        return np.log((n12 + smoothing.pair_k) * float(n)) - np.log(n1 * n2)


def write_table(
    out: Path,
    concepts: list[str],
    counts: np.ndarray,
    keys: np.ndarray,
    pair_counts: np.ndarray,
    header: dict,
    marginals: np.ndarray | None = None,
) -> dict:
    """Write a PMI table folder from the sorted vocabulary and the sorted pair keys; return the header."""
    smoothing = Smoothing(header["mode"], header["smoothing"]["pair_k"])
    a, b = tri_pairs(keys, len(concepts))
    words = marginals if marginals is not None else counts
    pmi = pmi_values(pair_counts, words[a], words[b], header["n_captions"], smoothing)
    vocab = pa.array(concepts, pa.string())
    columns = {"concept": vocab, "count": pa.array(counts, pa.int64())}
    if marginals is not None:
        columns["marginal"] = pa.array(marginals, pa.int64())
    pairs = pa.table(
        {
            "c1": pa.DictionaryArray.from_arrays(pa.array(a, pa.int32()), vocab),
            "c2": pa.DictionaryArray.from_arrays(pa.array(b, pa.int32()), vocab),
            "count": pa.array(pair_counts, pa.int64()),
            "pmi": pa.array(pmi, pa.float64()),
        }
    )
    write_parquet(out / CONCEPTS, pa.table(columns))
    write_parquet(out / PAIRS, pairs)
    header = {"format": FORMAT, **header, "n_concepts": len(concepts), "n_pairs": len(keys)}
    write_json(out / HEADER, header)
    return header


@dataclass(frozen=True)
class Score:
    """Mean PMI over the concept pairs of a text."""

    mean: float
    pairs: list[tuple[str, str, float]]
    unknown: list[str]


class PMITable:
    """Concept and pair counts with PMI; raw words go through the same concept extraction."""

    def __init__(self, header: dict, concepts: pa.Table, pairs: pa.Table) -> None:
        self.header = header
        self.names: list[str] = concepts.column("concept").to_pylist()
        self.index = {c: i for i, c in enumerate(self.names)}
        self.counts = concepts.column("count").to_numpy()
        self.words = (
            concepts.column("marginal").to_numpy() if "marginal" in concepts.column_names else self.counts
        )
        self.smoothing = Smoothing(header["mode"], header["smoothing"]["pair_k"])
        v = len(self.names)
        c1 = pc.index_in(pairs.column("c1").cast(pa.string()), value_set=concepts.column("concept"))
        c2 = pc.index_in(pairs.column("c2").cast(pa.string()), value_set=concepts.column("concept"))
        self.keys = tri_index(c1.to_numpy(zero_copy_only=False), c2.to_numpy(zero_copy_only=False), v)
        self.pair_counts = pairs.column("count").to_numpy()
        self._rules: ConceptRules | None = None

    @classmethod
    def load(cls, path: str | Path) -> PMITable:
        """Load a table folder from a local path or s3:// URI."""
        with local_dir(str(path)) as folder:
            if not (folder / HEADER).is_file():
                raise UserError(f"{path}: not a PMI table (no {HEADER})")
            header = read_json(folder / HEADER, required=("mode", "smoothing", "n_captions"))
            return cls(header, read_parquet(folder / CONCEPTS), read_parquet(folder / PAIRS))

    @property
    def n_captions(self) -> int:
        return int(self.header["n_captions"])

    @property
    def rules(self) -> ConceptRules:
        if self._rules is None:
            self._rules = ConceptRules()
        return self._rules

    def concepts(self, text: str) -> list[str]:
        """The concepts of a text, by the rules the table was counted with."""
        return self.rules.concepts(text)

    def concept(self, word: str) -> str | None:
        """The concept a raw word maps to (``'dogs'`` -> ``'dog'``), None if filtered out."""
        found = self.rules.concepts(word)
        return found[0] if len(found) == 1 else (word if word in self.index else None)

    def _id(self, word: str) -> int | None:
        concept = word if word in self.index else self.concept(word)
        return self.index.get(concept) if concept is not None else None

    def count(self, c1: str, c2: str | None = None) -> int:
        """Captions containing ``c1`` (and ``c2``); 0 for concepts outside the vocabulary."""
        i = self._id(c1)
        if c2 is None:
            return int(self.counts[i]) if i is not None else 0
        j = self._id(c2)
        if i is None or j is None:
            return 0
        if i == j:
            return int(self.counts[i])
        return self._pair_count(min(i, j), max(i, j))

    def _pair_count(self, a: int, b: int) -> int:
        key = tri_index(np.array([a]), np.array([b]), len(self.names))[0]
        pos = np.searchsorted(self.keys, key)
        return int(self.pair_counts[pos]) if pos < len(self.keys) and self.keys[pos] == key else 0

    def pmi(self, c1: str, c2: str) -> float:
        """PMI of two concepts (or raw words); NaN when either is outside the vocabulary."""
        i, j = self._id(c1), self._id(c2)
        if i is None or j is None or i == j:
            return math.nan
        a, b = min(i, j), max(i, j)
        n12 = self._pair_count(a, b)
        return float(pmi_values(n12, self.words[a], self.words[b], self.n_captions, self.smoothing))

    def score(self, text: str) -> Score:
        """Mean PMI over every pair of in-vocabulary concepts of ``text`` (NaN with fewer than two)."""
        found = self.concepts(text)
        known = [c for c in found if c in self.index]
        pairs = [(a, b, self.pmi(a, b)) for i, a in enumerate(sorted(known)) for b in sorted(known)[i + 1 :]]
        mean = float(np.mean([p for _, _, p in pairs])) if pairs else math.nan
        return Score(mean, pairs, [c for c in found if c not in self.index])

    def pair_pmi(self) -> np.ndarray:
        """PMI of every co-occurring pair, in key order."""
        a, b = tri_pairs(self.keys, len(self.names))
        return pmi_values(self.pair_counts, self.words[a], self.words[b], self.n_captions, self.smoothing)

    def top(self, word: str, k: int = 10, lowest: bool = False) -> list[tuple[str, float, int]]:
        """The ``k`` partners of a concept with the highest (or lowest) PMI among co-occurring pairs."""
        i = self._id(word)
        if i is None:
            raise UserError(f"{word!r} is not in the PMI vocabulary")
        a, b = tri_pairs(self.keys, len(self.names))
        mine = np.flatnonzero((a == i) | (b == i))
        partners = np.where(a[mine] == i, b[mine], a[mine])
        values = pmi_values(
            self.pair_counts[mine], self.words[i], self.words[partners], self.n_captions, self.smoothing
        )
        order = np.lexsort((partners, values if lowest else -values))[:k]
        return [(self.names[partners[o]], float(values[o]), int(self.pair_counts[mine[o]])) for o in order]
