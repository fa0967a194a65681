"""VQA accuracy against PMI: each question scored by the mean PMI of its question+answer concepts.

A question's concepts come from its text and its most common human answer, through the PMI
table's own extraction (:meth:`compclip.pmi.PMITable.score`); TextVQA's OCR tokens (text read in
the image) are removed first. Questions with fewer than two in-vocabulary concepts have no PMI
and are counted, not scored. Accuracy by PMI bin, Pearson/Spearman r across bins and the gap
between the 5% PMI tails come from the evaluator's statistics (:mod:`compclip.evaluate.stats`);
the yes-bias analysis does the same with "answered yes" over the questions whose answer is yes.
"""

from __future__ import annotations

import math

import numpy as np

from compclip.evaluate.stats import Bins, StatsConfig, pmi_metrics, tie_keys
from compclip.pmi import PMITable
from compclip.pmi.concepts import tokenize
from compclip.rejects import Rejects
from compclip.vqa.accuracy import normalize, vqa_accuracy
from compclip.vqa.data import Question


def scored_text(question: Question) -> str:
    """The question and its answer, without the words of its OCR tokens."""
    ocr = set(tokenize(" ".join(question.ocr_tokens)))
    return " ".join(t for t in tokenize(f"{question.question} {question.answer}") if t not in ocr)


def question_rows(
    questions: list[Question],
    predictions: dict[str, str],
    table: PMITable,
    rejects: Rejects,
    skipped: Rejects,
) -> list[dict]:
    """One row per answered question with a PMI: its accuracy, PMI and yes flags.

    Questions without a prediction go to ``rejects``; those with fewer than two known concepts to ``skipped``.
    """
    rows = []
    for q in questions:
        if q.question_id not in predictions:
            rejects.add("no_prediction", q.question_id)
            continue
        score = table.score(scored_text(q))
        if math.isnan(score.mean):
            skipped.add("fewer_than_two_concepts", q.question_id)
            continue
        prediction = predictions[q.question_id]
        rows.append({"question_id": q.question_id, "question": q.question, "answer": q.answer,
                     "prediction": prediction, "accuracy": vqa_accuracy(prediction, q.answers),
                     "pmi": score.mean, "concept_pairs": len(score.pairs),
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
