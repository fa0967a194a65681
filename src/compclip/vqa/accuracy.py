"""VQA accuracy: an answer is right as far as at least three humans gave it.

Answers are normalised before comparison (lowercase, punctuation dropped, articles dropped,
number words as digits): a simplification of the official VQA evaluation's normalisation, which
also rewrites contractions and a few punctuation cases. Accuracy averages ``min(1, matches / 3)``
over the ten leave-one-out subsets of the human answers, as the official evaluation does.
"""

from __future__ import annotations

import re

ARTICLES = {"a", "an", "the"}
NUMBERS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}  # fmt: skip
PUNCTUATION = re.compile(r"(?!(?<=\d)\.(?=\d))[^\w\s]")  # keeps a decimal point


def normalize(answer: str) -> str:
    words = PUNCTUATION.sub("", answer.lower().replace("\n", " ").strip()).split()
    return " ".join(NUMBERS.get(w, w) for w in words if w not in ARTICLES)


def vqa_accuracy(prediction: str, answers: tuple[str, ...]) -> float:
    """The official leave-one-out VQA accuracy of one prediction against the human answers."""
    guess, truth = normalize(prediction), [normalize(a) for a in answers]
    if len(truth) < 2:
        return float(bool(truth) and guess == truth[0])
    scores = []
    for i in range(len(truth)):
        matches = sum(guess == t for j, t in enumerate(truth) if j != i)
        scores.append(min(1.0, matches / 3))
    return sum(scores) / len(scores)
