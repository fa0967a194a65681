"""VQA accuracy, question and prediction readers, the LLaVA-1.5 prompt and padding, OCR words, yes/no
kept, and the PMI analysis of rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compclip.errors import UserError
from compclip.evaluate.stats import StatsConfig
from compclip.rejects import Rejects
from compclip.vqa.accuracy import normalize, vqa_accuracy
from compclip.vqa.analysis import analyze_rows, question_score, scored_text
from compclip.vqa.data import Question, read_predictions, read_questions
from compclip.vqa.llava import pad_to_square, prompt


def test_normalize_drops_case_articles_punctuation_and_spells_numbers():
    assert (
        normalize(" The Two dogs!") == "2 dogs" and normalize("3.5") == "3.5" and normalize("Yes.") == "yes"
    )


def test_accuracy_is_the_leave_one_out_mean_of_min_one_matches_over_three():
    answers = ("red",) * 2 + ("blue",) * 8
    assert vqa_accuracy("Red", answers) == pytest.approx((8 * 2 / 3 + 2 * 1 / 3) / 10)
    assert vqa_accuracy("blue", answers) == 1.0 and vqa_accuracy("green", answers) == 0.0


def test_read_vqav2_joins_annotations_and_counts_questions_without_answers(tmp_path):
    (tmp_path / "q.json").write_text(json.dumps({"questions": [
        {"question_id": 1, "image_id": 9, "question": "is it red?"},
        {"question_id": 2, "image_id": 9, "question": "what?"}, {"image_id": 3}]}))  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps({"annotations": [
        {"question_id": 1, "answers": [{"answer": "yes"}] * 7 + [{"answer": "no"}] * 3}]}))  # fmt: skip
    rejects = Rejects()
    dataset, found = read_questions(str(tmp_path / "q.json"), str(tmp_path / "a.json"), rejects)
    assert dataset == "vqav2" and [q.question_id for q in found] == ["1"] and found[0].answer == "yes"
    assert rejects.as_dict() == {"malformed_question": 1, "no_answers": 1}
    with pytest.raises(UserError, match="annotations"):
        read_questions(str(tmp_path / "q.json"), None, rejects)


def test_read_textvqa_keeps_ocr_tokens_scored_with_the_question_unless_dropped(tmp_path):
    record = {"question_id": 5, "image_id": "ab", "question": "What brand is the red car?",
              "answers": ["Ford"] * 10, "ocr_tokens": ["FORD", "car"]}  # fmt: skip
    (tmp_path / "t.json").write_text(json.dumps({"data": [record]}))
    dataset, found = read_questions(str(tmp_path / "t.json"), None, Rejects())
    assert dataset == "textvqa" and found[0].ocr_tokens == ("FORD", "car")
    assert scored_text(found[0]) == "what brand is the red car ford car ford"  # as the released code
    assert scored_text(found[0], "drop") == "what brand is the red"
    with pytest.raises(UserError, match="ocr_words"):
        scored_text(found[0], "keep")


def test_the_llava_1_5_prompt_has_the_vicuna_system_line_and_textvqa_s_ocr_line():
    vqa = Question("1", "9", "Is the dog red?", ("yes",) * 10)
    text = Question("2", "ab", "What brand is it?", ("ford",) * 10, ("FORD", "car"))
    system = "A chat between a curious human and an artificial intelligence assistant. The assistant gives "
    assert prompt(vqa) == (
        system + "helpful, detailed, and polite answers to the human's questions. USER: "
        "<image>\nIs the dog red?\nAnswer the question using a single word or phrase. "
        "ASSISTANT:"
    )
    assert "<image>\nWhat brand is it?\nReference OCR token: FORD, car\nAnswer the question" in prompt(text)


def test_images_are_padded_to_a_square_with_the_mean_colour_not_cropped():
    from PIL import Image

    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    square = pad_to_square(wide, (122, 116, 104))
    pixels = np.asarray(square)
    assert square.size == (40, 40) and (pixels[10:30] == (255, 0, 0)).all()
    assert (pixels[:10] == (122, 116, 104)).all() and (pixels[30:] == (122, 116, 104)).all()
    assert pad_to_square(square, (0, 0, 0)) is square


def test_yes_and_no_are_scored_though_no_is_a_stopword():
    class Table:
        def __init__(self):
            self.index = {"dog": 0, "no": 1, "yes": 2}

        def concepts(self, text):
            return [w for w in text.split() if w not in ("is", "the", "no")]  # NLTK drops "no"

        def pmi(self, a, b):
            return {("dog", "no"): -1.0, ("dog", "yes"): 2.0, ("no", "yes"): 0.0}[(a, b)]

    assert question_score("is the dog no", Table()) == -1.0
    assert question_score("is the dog yes", Table()) == 2.0
    assert np.isnan(question_score("is the dog", Table()))


def test_read_predictions_counts_malformed_and_repeated_lines(tmp_path):
    lines = ['{"question_id": 1, "text": "yes"}', "not json", '{"question_id": 1, "text": "no"}',
             '{"question_id": 2}', "", '{"question_id": 3, "text": "two", "model_id": "m"}']  # fmt: skip
    (tmp_path / "p.jsonl").write_text("\n".join(lines))
    rejects = Rejects()
    assert read_predictions([str(tmp_path / "p.jsonl")], rejects) == {"1": "yes", "3": "two"}
    assert rejects.as_dict() == {"duplicate_prediction": 1, "malformed_prediction": 2}


def rows(n=200, seed=0):
    """Accuracy rising with PMI; yes-answers said yes more often at high PMI."""
    rng = np.random.default_rng(seed)
    pmi = rng.normal(size=n)
    return [{"question_id": str(i), "pmi": p,
             "accuracy": float(np.clip(0.5 + 0.2 * p + 0.1 * rng.normal(), 0, 1)),
             "answer_yes": i % 2 == 0, "predicted_yes": bool(rng.random() < 1 / (1 + np.exp(-2 * p)))}
            for i, p in enumerate(pmi)]  # fmt: skip


def test_analysis_relates_accuracy_and_yes_bias_to_pmi():
    metrics, bins = analyze_rows(rows(), StatsConfig(n_bins=4, n_boot=100))
    assert metrics["n"] == 200 and metrics["pearson_r"] > 0.5 and metrics["gap"] > 0
    assert metrics["yes_bias/n"] == 100 and metrics["yes_bias/pearson_r"] > 0.5
    assert set(bins) == {"accuracy", "yes_bias"} and bins["yes_bias"].count.sum() == 100
    assert metrics["acc"] == pytest.approx(np.mean([r["accuracy"] for r in rows()]))


def test_question_answer_is_the_most_common_human_answer():
    assert Question("1", "1", "q", ("no", "yes", "yes")).answer == "yes"
