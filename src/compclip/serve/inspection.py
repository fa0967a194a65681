"""Answers from embeddings: does an image prefer its specification over hard negatives, and
zero-shot scores of an image against labels. Pure functions over normalised embeddings, plus the
hard negatives of a specification from the negatives module's rule generator.

Scores are cosine similarities. An inspection passes when the specification scores strictly above
every candidate; its margin is the specification's score minus the best candidate's.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from compclip.negatives.rules import RuleGenerator
from compclip.negatives.run import Rules, propose
from compclip.negatives.validity import FilterConfig, ValidityFilter

GIVEN = "given"  # the type of a candidate caption given in the request without one


def inspect(
    image: np.ndarray,
    specification: str,
    spec: np.ndarray,
    captions: Sequence[str],
    types: Sequence[str],
    texts: np.ndarray,
) -> dict:
    """The answer for one image: its specification's score against each candidate's."""
    score = float(spec @ image)
    scores = texts @ image
    candidates = sorted(
        (
            {"caption": c, "type": t, "score": float(s), "beats_specification": bool(s >= score)}
            for c, t, s in zip(captions, types, scores, strict=True)
        ),
        key=lambda c: -c["score"],
    )
    margin = score - candidates[0]["score"]
    return {
        "kind": "inspect",
        "specification": specification,
        "score": score,
        "passed": margin > 0,
        "margin": margin,
        "candidates": candidates,
        "beating_types": sorted({c["type"] for c in candidates if c["beats_specification"]}),
    }


def zeroshot(image: np.ndarray, labels: Sequence[str], texts: np.ndarray, logit_scale: float) -> dict:
    """Each label's score and probability (softmax of the scaled scores), best first."""
    scores = texts @ image
    logits = logit_scale * (scores - scores.max())
    probabilities = np.exp(logits) / np.exp(logits).sum()
    order = np.argsort(-scores, kind="stable")
    return {
        "kind": "zeroshot",
        "top_label": labels[order[0]],
        "labels": [
            {"label": labels[i], "score": float(scores[i]), "probability": float(probabilities[i])}
            for i in order
        ],
    }


class HardNegatives:
    """Valid hard negatives of a specification, as ``negatives generate`` proposes them for a
    caption (rule generator, validity filter, the first ``per_type`` valid ones of each type).

    Seeded by the specification itself, so a specification always gets the same negatives; recent
    answers are cached. WordNet's reader is not thread-safe, so generation holds a lock.
    """

    def __init__(self, per_type: int, seed: int, filter: FilterConfig, cache: int = 1024) -> None:
        self.generator = Rules(RuleGenerator(), seed)
        self.validity = ValidityFilter(filter)
        self.per_type = per_type
        self.lock = threading.Lock()
        self.cached = lru_cache(maxsize=cache)(self._generate)

    def __call__(self, specification: str, types: tuple[str, ...]) -> list[tuple[str, str]]:
        """``(caption, type)`` of each valid negative, types in the order given."""
        return self.cached(specification, types)

    def _generate(self, specification: str, types: tuple[str, ...]) -> list[tuple[str, str]]:
        with self.lock:
            ((record, _),) = propose(
                [(specification, specification)], self.generator, self.validity, types, self.per_type
            )
        return list(zip(record.enhanced, record.types, strict=True))
