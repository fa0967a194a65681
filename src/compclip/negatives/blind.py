"""A blind model: a text-only n-gram language model of a caption corpus, to spot negatives that
text alone gives away (SugarCrepe's finding about ARO and CREPE: a model that never sees the
image tells many hard negatives from their captions by fluency alone).

Words are :func:`compclip.negatives.text.normalize`'s (lowercase, *an* read as *a*), with
sentence start and end marks. Probabilities are interpolated absolute discounting (discount
``d``) down to an add-one unigram, so unseen words and n-grams get a small, non-zero share.
:meth:`BlindModel.score` is a caption's log-probability (nats); the model *prefers the
positive* of a pair when it scores higher than the negative, with the positive left out of the
counts when the model was trained on it (:meth:`BlindModel.gap`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from compclip.negatives.text import normalize

START, END = "<s>", "</s>"


class BlindModel:
    """An n-gram language model (``order`` 2 or 3) trained on ``captions``."""

    def __init__(self, captions: Iterable[str], order: int = 3, discount: float = 0.75) -> None:
        if order not in (2, 3):
            raise ValueError("order must be 2 or 3")
        self.order, self.discount = order, discount
        self.counts: list[Counter] = [Counter() for _ in range(order + 1)]  # n-gram counts by n
        self.context: list[Counter] = [Counter() for _ in range(order + 1)]  # context totals by n
        self.followers: list[Counter] = [Counter() for _ in range(order + 1)]  # distinct next words
        self.seen: Counter = Counter()  # training captions, as normalised words
        self.total, self.vocabulary = 0, 1  # words counted; distinct words + an unknown word
        for caption in captions:
            self._add(self._words(caption), 1)

    def _add(self, words: list[str], sign: int) -> None:
        """Count (``sign`` 1) or uncount (-1) one caption's n-grams."""
        self.seen[tuple(words)] += sign
        for n in range(1, self.order + 1):
            for i in range(len(words) - n + 1):
                gram = tuple(words[i : i + n])
                if gram[-1] == START:
                    continue
                before = self.counts[n][gram]
                self.counts[n][gram] += sign
                self.context[n][gram[:-1]] += sign
                if (before == 0) != (self.counts[n][gram] == 0):  # a new n-gram, or one gone
                    if n > 1:
                        self.followers[n][gram[:-1]] += sign
                    else:
                        self.vocabulary += sign
                if n == 1:
                    self.total += sign

    def _words(self, caption: str) -> list[str]:
        return [START] * (self.order - 1) + normalize(caption) + [END]

    def _probability(self, gram: tuple[str, ...]) -> float:
        if len(gram) == 1:
            return (self.counts[1][gram] + 1) / (self.total + self.vocabulary)
        n, history = len(gram), gram[:-1]
        lower = self._probability(gram[1:])
        seen = self.context[n][history]
        if not seen:
            return lower
        kept = max(self.counts[n][gram] - self.discount, 0.0) / seen
        return kept + self.discount * self.followers[n][history] / seen * lower

    def score(self, caption: str) -> float:
        """Log-probability (nats) of the caption under the model."""
        words = self._words(caption)
        n = self.order
        return sum(
            math.log(self._probability(tuple(words[i - n + 1 : i + 1]))) for i in range(n - 1, len(words))
        )

    def gap(self, positive: str, negative: str) -> float:
        """``score(positive) - score(negative)`` with the positive left out of the counts when it
        was trained on (leave-one-out: a model that has read the caption prefers it for that alone)."""
        return self.gaps(positive, [negative])[0]

    def gaps(self, positive: str, negatives: list[str]) -> list[float]:
        """:meth:`gap` for each of ``negatives``, the positive left out once for all of them."""
        words = self._words(positive)
        held_out = self.seen[tuple(words)] > 0
        if held_out:
            self._add(words, -1)
        try:
            reference = self.score(positive)
            return [reference - self.score(negative) for negative in negatives]
        finally:
            if held_out:
                self._add(words, 1)

    def prefers_positive(self, positive: str, negative: str) -> bool:
        return self.gap(positive, negative) > 0
