"""The validity filter: which candidate negatives are kept, and why the others are not.

A candidate is rejected, under the first reason that applies, when it is

- ``empty``: no words;
- ``unchanged``: the same words in the same order as the original (case, punctuation and
  ``a``/``an`` ignored);
- ``too_short`` / ``too_long``: its word count is outside ``[min_ratio, max_ratio]`` times the
  original's;
- ``words_changed``: a swap or reshuffle whose multiset of words differs from the original's
  (nouns compared in the singular, so *dogs* = *dog*; ``a``/``an`` as one word);
- ``not_one_concept``: a replace that does not remove exactly one concept and add exactly one
  (concepts by :class:`compclip.pmi.concepts.ConceptRules`, the PMI table's rules);
- ``not_a_relation``: a relation replace that changes a word outside the spatial relation
  phrases and prepositions of ``lexicon.yaml`` (the other words, in order, must stay);
- ``inverse_relation``: with ``inverse_relations`` off, a relation replace that makes a relation
  its opposite (*left of* -> *right of*: that is the ``invert_relations`` type's job);
- ``not_inverted``: a relation inversion that does not make a relation its opposite;
- ``duplicate``: the same as a negative already kept for this caption.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from compclip.negatives.tagger import Lexicon
from compclip.negatives.text import normalize, singular
from compclip.negatives.types import RELATIONS, REPLACES, SWAPS
from compclip.pmi.concepts import ConceptRules

REASONS = (
    "empty", "unchanged", "too_short", "too_long", "words_changed", "not_one_concept", "not_a_relation",
    "inverse_relation", "not_inverted", "duplicate",
)  # fmt: skip


@dataclass(frozen=True)
class FilterConfig:
    min_ratio: float = 0.5  # shortest negative, as a share of the original's word count
    max_ratio: float = 1.5
    inverse_relations: bool = True  # False: a relation replace may not be the relation's opposite


class ValidityFilter:
    def __init__(
        self,
        config: FilterConfig = FilterConfig(),
        rules: ConceptRules | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.config = config
        self.rules = rules or ConceptRules()
        self.lexicon = lexicon or Lexicon.load()

    def reason(self, original: str, negative: str, kind: str, kept: set[tuple[str, ...]]) -> str | None:
        """Why ``negative`` is not a valid ``kind`` negative of ``original`` (None when it is).

        ``kept`` holds the normalised negatives already kept for this caption; a valid one is added.
        """
        before, after = normalize(original), normalize(negative)
        if not after:
            return "empty"
        if after == before:
            return "unchanged"
        if len(after) < self.config.min_ratio * len(before):
            return "too_short"
        if len(after) > self.config.max_ratio * len(before):
            return "too_long"
        if kind in SWAPS and self._bag(before) != self._bag(after):
            return "words_changed"
        if kind in REPLACES:
            old, new = set(self.rules.concepts(original)), set(self.rules.concepts(negative))
            if len(old - new) != 1 or len(new - old) != 1:
                return "not_one_concept"
        if kind in RELATIONS:
            if self._kept(before) != self._kept(after):
                return "not_a_relation"
            inverted = self._inverted(before, after)
            if kind == "replace_relations" and inverted and not self.config.inverse_relations:
                return "inverse_relation"
            if kind == "invert_relations" and not inverted:
                return "not_inverted"
        key = tuple(after)
        if key in kept:
            return "duplicate"
        kept.add(key)
        return None

    def _kept(self, words: list[str]) -> list[str]:
        return [w for w in words if w not in self.lexicon.relation_words]

    def _inverted(self, before: list[str], after: list[str]) -> bool:
        """Whether a relation of ``before`` became its opposite in ``after``."""
        old, new = ([m for *_, m in self.lexicon.relation_spans(w)] for w in (before, after))
        return any(b == self.lexicon.inverses.get(a) for a, b in zip(old, new, strict=False))

    def _bag(self, words: list[str]) -> Counter:
        return Counter(singular(w) for w in words)
