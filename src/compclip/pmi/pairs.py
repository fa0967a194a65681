"""Pair counting core: all concept pairs i < j of every caption, counted once per caption.

Pairs live in the vocabulary's id space (ids sorted by concept string, so id order is string
order) and are keyed by their index in the upper triangle of the V x V matrix. A
:class:`PairCounter` adds keys into a dense ``uint32``/``uint64`` triangle when it fits the
memory budget, and into sorted sparse runs otherwise; both give the same sorted output.
"""

from __future__ import annotations

import numpy as np

from compclip.pmi.encode import Encoded, sorted_unique

DENSE_LIMIT_BYTES = 3 << 29  # 1.5 GiB: a 22k-concept triangle of uint32 is 0.97 GB
SPARSE_RUN_KEYS = 1 << 25


def n_pairs(vocab_size: int) -> int:
    return vocab_size * (vocab_size - 1) // 2


def tri_index(a: np.ndarray, b: np.ndarray, vocab_size: int) -> np.ndarray:
    """Index of pair (a, b), a < b, in the row-major upper triangle (diagonal excluded)."""
    a = a.astype(np.int64)
    return a * (2 * vocab_size - a - 1) // 2 + (b.astype(np.int64) - a - 1)


def tri_pairs(keys: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`tri_index`: the (a, b) of each key."""
    keys = keys.astype(np.int64)
    # Row a starts at s(a) = a(2V - a - 1)/2; solve s(a) <= key for the largest a.
    v = 2 * vocab_size - 1
    a = np.floor((v - np.sqrt(float(v) ** 2 - 8.0 * keys)) / 2).astype(np.int64)
    a = np.clip(a, 0, vocab_size - 2)
    start = a * (2 * vocab_size - a - 1) // 2
    fix_low = keys < start
    a[fix_low] -= 1
    start = a * (2 * vocab_size - a - 1) // 2
    next_start = (a + 1) * (2 * vocab_size - a - 2) // 2
    fix_high = keys >= next_start
    a[fix_high] += 1
    start = a * (2 * vocab_size - a - 1) // 2
    return a, keys - start + a + 1


def caption_pair_keys(encoded: Encoded, lut: np.ndarray, vocab_size: int) -> np.ndarray:
    """Triangle keys of every in-vocabulary concept pair of every caption (a caption's pairs once).

    ``lut`` maps the encoding's concept ids to vocabulary ids, -1 for concepts outside it.
    """
    ids = lut[encoded.ids] if len(encoded.ids) else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(encoded.n_captions), encoded.lengths())
    keep = ids >= 0
    ids, rows = ids[keep], rows[keep]
    lengths = np.bincount(rows, minlength=encoded.n_captions)
    starts = np.zeros(encoded.n_captions, np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    chunks = []
    for k in np.unique(lengths[lengths >= 2]):
        first = starts[lengths == k]
        block = np.sort(ids[first[:, None] + np.arange(k)], axis=1)
        i, j = np.triu_indices(int(k), 1)
        chunks.append(tri_index(block[:, i].ravel(), block[:, j].ravel(), vocab_size))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)


class PairCounter:
    """Counts triangle keys; dense when the triangle fits ``dense_limit`` bytes, sparse runs otherwise."""

    def __init__(self, vocab_size: int, max_count: int, dense_limit: int = DENSE_LIMIT_BYTES) -> None:
        self.vocab_size = vocab_size
        self.dtype = np.uint32 if max_count < 2**32 else np.uint64
        size = n_pairs(vocab_size)
        self.dense = np.zeros(size, self.dtype) if size * self.dtype().itemsize <= dense_limit else None
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._buffer: list[np.ndarray] = []
        self._buffered = 0

    def add_keys(self, keys: np.ndarray) -> None:
        """Count each key once per occurrence."""
        if self.dense is not None:
            unique, counts = sorted_unique(keys, counts=True)
            self.dense[unique] += counts.astype(self.dtype)
            return
        self._buffer.append(keys)
        self._buffered += len(keys)
        if self._buffered >= SPARSE_RUN_KEYS:
            self._flush()

    def add_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add counts for unique keys (e.g. another shard's pairs)."""
        if self.dense is not None:
            self.dense[keys] += counts.astype(self.dtype)
        else:
            self._runs.append((keys.astype(np.int64), counts.astype(np.int64)))
            if len(self._runs) > 8:
                self._runs = [_reduce(self._runs)]

    def _flush(self) -> None:
        if self._buffer:
            unique, counts = sorted_unique(np.concatenate(self._buffer), counts=True)
            self._runs.append((unique, counts))
            self._buffer, self._buffered = [], 0

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted keys with a nonzero count, and their counts (int64)."""
        if self.dense is not None:
            keys = np.flatnonzero(self.dense)
            return keys, self.dense[keys].astype(np.int64)
        self._flush()
        if not self._runs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return _reduce(self._runs)


def _reduce(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted (key, count) runs, summing the counts of equal keys."""
    keys = np.concatenate([k for k, _ in runs])
    counts = np.concatenate([c for _, c in runs])
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    first = np.ones(len(keys), bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return keys[starts], np.add.reduceat(counts, starts) if len(keys) else counts
