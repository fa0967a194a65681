"""A blind model: a text-only n-gram language model of a caption corpus, to spot negatives that
text alone gives away (SugarCrepe's finding about ARO and CREPE: a model that never sees the
image tells many hard negatives from their captions by fluency alone).

Words are :func:`compclip.negatives.text.normalize`'s (lowercase, *an* read as *a*), with
sentence start and end marks. Probabilities are interpolated absolute discounting (discount
``d``) down to an add-one unigram, so unseen words and n-grams get a small, non-zero share.
With ``smoothing="kneser_ney"`` (interpolated Kneser-Ney) the orders below the top one count
an n-gram's distinct preceding words (its continuation count) instead of its occurrences, so a
word seen often but in few contexts (*francisco*) weighs little as a backoff.
:meth:`BlindModel.score` is a caption's log-probability (nats); the model *prefers the
positive* of a pair when it scores higher than the negative, with the positive left out of the
counts when the model was trained on it (:meth:`BlindModel.gap`).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal, get_args

from compclip.negatives.text import normalize

START, END = "<s>", "</s>"
Smoothing = Literal["absolute", "kneser_ney"]
SMOOTHINGS = get_args(Smoothing)
CAPTION_NUMBER = re.compile(r"#\d+$")  # Flickr's "<image>#<n>" caption ids


def image_of(caption_id: str) -> str:
    """The image a caption id belongs to: the id, less a trailing ``#<n>`` (Flickr8k/30k's
    ``<image>#<n>``; a dataset folder's captions of one image share its id)."""
    return CAPTION_NUMBER.sub("", caption_id)


class BlindModel:
    """An n-gram language model (``order`` 2 or 3) trained on ``captions``; ``images``, parallel
    to them, names each caption's image (for leaving out all of an image's captions)."""

    def __init__(
        self,
        captions: Iterable[str],
        order: int = 3,
        discount: float = 0.75,
        smoothing: Smoothing = "absolute",
        images: Sequence[str] | None = None,
    ) -> None:
        if order not in (2, 3):
            raise ValueError("order must be 2 or 3")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}")
        self.order, self.discount, self.smoothing = order, discount, smoothing
        self.counts: list[Counter] = [Counter() for _ in range(order + 1)]  # n-gram counts by n
        # Kneser-Ney: distinct words seen before each n-gram, by n below the order
        self.continuation: list[Counter] = [Counter() for _ in range(order)]
        # by n, over the counts order n's probabilities use (counts or continuation counts):
        self.context: list[Counter] = [Counter() for _ in range(order + 1)]  # totals per history
        self.followers: list[Counter] = [Counter() for _ in range(order + 1)]  # distinct next words
        self.seen: Counter = Counter()  # training captions, as normalised words
        self.total, self.vocabulary = 0, 1  # words counted; distinct words + an unknown word
        self.images: dict[str, list[tuple[str, ...]]] = defaultdict(list)  # image -> its captions' words
        captions = list(captions)
        if images is not None and len(images) != len(captions):
            raise ValueError("images must be parallel to captions")
        for n, caption in enumerate(captions):
            words = self._words(caption)
            self._add(words, 1)
            if images is not None:
                self.images[images[n]].append(tuple(words))

    def _add(self, words: list[str], sign: int) -> None:
        """Count (``sign`` 1) or uncount (-1) one caption's n-grams."""
        self.seen[tuple(words)] += sign
        for n in range(1, self.order + 1):
            for i in range(len(words) - n + 1):
                gram = tuple(words[i : i + n])
                if gram[-1] == START:
                    continue
                changed = _bump(self.counts[n], gram, sign)  # a new n-gram, or one gone
                if n == 1:
                    self.total += sign
                    self.vocabulary += sign * changed
                if not self._continued(n):
                    self._tally(n, gram, sign, changed)
                if changed and n > 1 and self._continued(n - 1):  # a left context of gram[1:] new or gone
                    self._tally(n - 1, gram[1:], sign, _bump(self.continuation[n - 1], gram[1:], sign))

    def _continued(self, n: int) -> bool:
        """Whether order ``n``'s probabilities use continuation counts (Kneser-Ney, below the order)."""
        return self.smoothing == "kneser_ney" and n < self.order

    def _tally(self, n: int, gram: tuple[str, ...], sign: int, changed: bool) -> None:
        """Update order ``n``'s history total, and its distinct followers when ``gram`` came or went."""
        self.context[n][gram[:-1]] += sign
        if changed and n > 1:
            self.followers[n][gram[:-1]] += sign

    def _words(self, caption: str) -> list[str]:
        return [START] * (self.order - 1) + normalize(caption) + [END]

    def _probability(self, gram: tuple[str, ...]) -> float:
        n = len(gram)
        counts = self.continuation[n] if self._continued(n) else self.counts[n]
        if n == 1:
            return (counts[gram] + 1) / (self.context[1][()] + self.vocabulary)
        history = gram[:-1]
        lower = self._probability(gram[1:])
        seen = self.context[n][history]
        if not seen:
            return lower
        kept = max(counts[gram] - self.discount, 0.0) / seen
        return kept + self.discount * self.followers[n][history] / seen * lower

    def score(self, caption: str) -> float:
        """Log-probability (nats) of the caption under the model."""
        words = self._words(caption)
        n = self.order
        return sum(
            math.log(self._probability(tuple(words[i - n + 1 : i + 1]))) for i in range(n - 1, len(words))
        )

    def gap(self, positive: str, negative: str, image: str | None = None) -> float:
        """``score(positive) - score(negative)`` with the positive left out of the counts when it
        was trained on, and every caption of ``image`` (leave-one-out: a model that has read the
        caption, or another caption of its image, prefers it for that alone)."""
        return self.gaps(positive, [negative], image)[0]

    def gaps(self, positive: str, negatives: list[str], image: str | None = None) -> list[float]:
        """:meth:`gap` for each of ``negatives``, the captions left out once for all of them."""
        words = tuple(self._words(positive))
        held_out = list(self.images.get(image, ())) if image is not None else []
        if words not in held_out and self.seen[words] > 0:
            held_out.append(words)
        for caption in held_out:
            self._add(list(caption), -1)
        try:
            reference = self.score(positive)
            return [reference - self.score(negative) for negative in negatives]
        finally:
            for caption in held_out:
                self._add(list(caption), 1)

    def prefers_positive(self, positive: str, negative: str, image: str | None = None) -> bool:
        return self.gap(positive, negative, image) > 0


def _bump(counts: Counter, key: tuple[str, ...], sign: int) -> bool:
    """Add ``sign`` to ``counts[key]``; whether the key went from absent to present or back."""
    before = counts[key]
    counts[key] += sign
    return (before == 0) != (counts[key] == 0)
