"""VQA accuracy against PMI: each question scored by the mean PMI of its question+answer concepts.

A question's concepts come from its text and its most common human answer, through the PMI
table's own extraction, plus ``yes`` and ``no`` whenever they occur: the released code
(``vqa_pair_freqs.py``) keeps both though NLTK lists "no" as a stopword (it is scored where the
table counted it). TextVQA's OCR tokens (text read in the image) are part of the question as
LLaVA's prompt holds it (``ocr_words: include``, as released) or their words are removed from
question and answer (``drop``). Questions with fewer than two in-vocabulary concepts have no PMI
and are counted, not scored. Accuracy by PMI bin, Pearson/Spearman r across bins and the gap
between the 5% PMI tails come from the evaluator's statistics (:mod:`compclip.evaluate.stats`);
the yes-bias analysis does the same with "answered yes" over the questions whose answer is yes.
"""

from __future__ import annotations

import math

import numpy as np

from compclip.errors import UserError
from compclip.evaluate.stats import Bins, StatsConfig, pmi_metrics, tie_keys
from compclip.pmi import PMITable
from compclip.pmi.concepts import tokenize
from compclip.rejects import Rejects
from compclip.vqa.accuracy import normalize, vqa_accuracy
from compclip.vqa.data import Question

KEPT = ("yes", "no")  # answer words the released code scores though they are NLTK stopwords
OCR_WORDS = ("include", "drop")


def scored_text(question: Question, ocr_words: str = "include") -> str:
    """The words scored for a question: the question (with its OCR tokens, ``include``) and its
    answer, or both without the words of its OCR tokens (``drop``)."""
    if ocr_words not in OCR_WORDS:
        raise UserError(f"ocr_words must be one of {OCR_WORDS}, got {ocr_words!r}")
    ocr = " ".join(question.ocr_tokens)
    if ocr_words == "include":
        return " ".join(tokenize(f"{question.question} {ocr} {question.answer}"))
    dropped = set(tokenize(ocr))
    return " ".join(t for t in tokenize(f"{question.question} {question.answer}") if t not in dropped)


def question_score(text: str, table: PMITable) -> float:
    """Mean PMI over the pairs of distinct in-vocabulary concepts of ``text``, yes/no kept (NaN
    with fewer than two)."""
    found = table.concepts(text) + [w for w in text.split() if w in KEPT]
    known = sorted({c for c in found if c in table.index})
    values = [table.pmi(a, b) for i, a in enumerate(known) for b in known[i + 1 :]]
    return float(np.mean(values)) if values else math.nan


def question_rows(
    questions: list[Question],
    predictions: dict[str, str],
    table: PMITable,
    rejects: Rejects,
    skipped: Rejects,
    ocr_words: str = "include",
) -> list[dict]:
    """One row per answered question with a PMI: its accuracy, PMI and yes flags.

    Questions without a prediction go to ``rejects``; those with fewer than two known concepts to ``skipped``.
    """
    rows = []
    for q in questions:
        if q.question_id not in predictions:
            rejects.add("no_prediction", q.question_id)
            continue
        text = scored_text(q, ocr_words)
        score = question_score(text, table)
        if math.isnan(score):
            skipped.add("fewer_than_two_concepts", q.question_id)
            continue
        prediction = predictions[q.question_id]
        rows.append({"question_id": q.question_id, "question": q.question, "answer": q.answer,
                     "prediction": prediction, "accuracy": vqa_accuracy(prediction, q.answers),
                     "pmi": score, "scored_text": text,
                     "answer_yes": normalize(q.answer) == "yes",
                     "predicted_yes": normalize(prediction) == "yes"})  # fmt: skip
    return rows


def analyze_rows(rows: list[dict], stats: StatsConfig) -> tuple[dict, dict[str, Bins]]:
    """Flat metrics (``acc``, the PMI statistics, ``yes_bias/...``) and the bins behind them."""
    pmi = np.array([r["pmi"] for r in rows], dtype=float)
    accuracy = np.array([r["accuracy"] for r in rows], dtype=float)
    keys = tie_keys((r["question_id"] for r in rows), stats.seed)  # equal PMI: a seeded order, not file order
    metrics: dict = {"n": len(rows), "acc": float(accuracy.mean()) if rows else math.nan}
    bins: dict[str, Bins] = {}
    if len(rows) >= 2:
        found, bins["accuracy"] = pmi_metrics(pmi, accuracy, keys, stats)
        metrics.update(found)
    yes = np.array([r["answer_yes"] for r in rows], dtype=bool)
    said_yes = np.array([r["predicted_yes"] for r in rows], dtype=float)
    metrics["yes_bias/n"] = int(yes.sum())
    if yes.sum() >= 2:
        found, bins["yes_bias"] = pmi_metrics(pmi[yes], said_yes[yes], keys[yes], stats)
        metrics["yes_bias/share_yes"] = float(said_yes[yes].mean())
        metrics.update({f"yes_bias/{k}": v for k, v in found.items()})
    return metrics, bins
