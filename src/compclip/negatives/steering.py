"""PMI steering: order replacement words so that low-PMI concept pairs come first.

A candidate's score is its mean PMI with the other concepts of the caption (pairs that never
co-occur, PMI = -inf, count as ``floor``; concepts outside the table are left out). The order is
a sample without replacement with weights ``softmax(-score / temperature)`` (Gumbel top-k);
``temperature = 0`` sorts by score, lowest first. Without a table every score is 0, so the
order is a uniform seeded shuffle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from compclip.config import Checked, NonNegativeFloat


class PMILookup(Protocol):
    """The part of :class:`compclip.pmi.PMITable` that steering uses."""

    def pmi(self, c1: str, c2: str) -> float: ...

    def count(self, c: str) -> int: ...

    def concepts(self, text: str) -> list[str]: ...

    @property
    def names(self) -> list[str]: ...


@dataclass(frozen=True)
class SteerConfig(Checked):
    temperature: NonNegativeFloat = 0.5  # 0: always the lowest-PMI word; large: close to uniform
    floor: float = -10.0  # PMI used for pairs that never co-occur
    vocabulary_only: bool = True  # with a table, keep only candidates it knows (when any are known)


class Steering:
    """Scores and orders candidate replacement words, with or without a PMI table."""

    def __init__(self, table: PMILookup | None = None, config: SteerConfig = SteerConfig()) -> None:
        self.table = table
        self.config = config

    def score(self, candidate: str, context: list[str]) -> float:
        """Mean PMI of ``candidate`` with the ``context`` concepts (0 without a table or known pairs)."""
        if self.table is None:
            return 0.0
        values = []
        for concept in context:
            value = self.table.pmi(candidate, concept)
            if not math.isnan(value):
                values.append(self.config.floor if value == -math.inf else value)
        return float(np.mean(values)) if values else 0.0

    def vocabulary(self) -> tuple[str, ...]:
        """The table's concepts, most frequent first (none without a table)."""
        if self.table is None:
            return ()
        return tuple(sorted(self.table.names, key=lambda c: (-self.table.count(c), c)))

    def known(self, phrases: list[str]) -> list[str]:
        """With a table and ``vocabulary_only``, the phrases whose every concept it has seen (when any)."""
        if self.table is None or not self.config.vocabulary_only:
            return phrases
        kept = [p for p in phrases if all(self.table.count(c) > 0 for c in self.table.concepts(p))]
        return kept or phrases

    def order(
        self, candidates: list[str], caption: str, replaced: str, rng: np.random.Generator
    ) -> list[str]:
        """``candidates`` in the order to try them for replacing the concept ``replaced`` in ``caption``."""
        if not candidates:
            return []
        if self.table is not None and self.config.vocabulary_only:
            known = [c for c in candidates if self.table.count(c) > 0]
            candidates = known or candidates
        context = [] if self.table is None else [c for c in self.table.concepts(caption) if c != replaced]
        scores = np.array([self.score(c, context) for c in candidates])
        noise = rng.gumbel(size=len(candidates))
        if self.config.temperature <= 0:
            keys = scores + 1e-9 * noise
        else:
            keys = scores / self.config.temperature - noise
        return [candidates[i] for i in np.argsort(keys, kind="stable")]
