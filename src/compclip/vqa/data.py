"""VQA questions and answers (VQAv2 or TextVQA files) and predictions in LLaVA's evaluation JSONL.

- VQAv2: a questions file (``{"questions": [{"question_id", "image_id", "question"}]}``) and an
  annotations file (``{"annotations": [{"question_id", "answers": [{"answer"}], ...}]}``).
- TextVQA: one file, ``{"data": [{"question_id", "image_id", "question", "answers", "ocr_tokens"}]}``.
- Predictions (LLaVA's ``model_vqa_loader`` output): one JSON object a line with ``question_id``
  and ``text`` (plus ``prompt``, ``answer_id``, ``model_id``, ``metadata``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from compclip.errors import UserError
from compclip.rejects import Rejects
from compclip.storage import read_bytes


@dataclass(frozen=True)
class Question:
    question_id: str
    image_id: str
    question: str
    answers: tuple[str, ...]  # the human answers (10 in both datasets)
    ocr_tokens: tuple[str, ...] = field(default=())

    @property
    def answer(self) -> str:
        """The most common human answer (first seen among ties)."""
        return Counter(self.answers).most_common(1)[0][0]


def _json(uri: str) -> object:
    try:
        return json.loads(read_bytes(uri))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{uri}: not JSON ({err})") from err


def read_questions(questions: str, annotations: str | None, rejects: Rejects) -> tuple[str, list[Question]]:
    """``(dataset, questions)``: VQAv2 (with ``annotations``) or TextVQA; records without answers counted."""
    data = _json(questions)
    if isinstance(data, dict) and "data" in data:
        records = [
            (r, [str(a) for a in r.get("answers") or []], r.get("ocr_tokens") or []) for r in data["data"]
        ]
        dataset = "textvqa"
    elif isinstance(data, dict) and "questions" in data:
        if annotations is None:
            raise UserError(f"{questions}: VQAv2 questions need --annotations")
        notes = _json(annotations)
        if not isinstance(notes, dict) or "annotations" not in notes:
            raise UserError(f"{annotations}: not a VQAv2 annotations file (no 'annotations')")
        by_id = {a.get("question_id"): a for a in notes["annotations"]}
        records = [
            (r, [str(a.get("answer")) for a in by_id.get(r.get("question_id"), {}).get("answers", [])], [])
            for r in data["questions"]
        ]
        dataset = "vqav2"
    else:
        raise UserError(f"{questions}: neither VQAv2 ('questions') nor TextVQA ('data') format")
    found = []
    for record, answers, ocr in records:
        if not isinstance(record.get("question"), str) or record.get("question_id") is None:
            rejects.add("malformed_question", str(record)[:80])
        elif not answers:
            rejects.add("no_answers", str(record["question_id"]))
        else:
            found.append(Question(str(record["question_id"]), str(record.get("image_id")), record["question"],
                                  tuple(answers), tuple(map(str, ocr))))  # fmt: skip
    return dataset, found


def read_predictions(uris: list[str], rejects: Rejects) -> dict[str, str]:
    """Question id -> predicted text from LLaVA-format JSONL files; bad or repeated lines counted."""
    found: dict[str, str] = {}
    for uri in uris:
        for n, line in enumerate(read_bytes(uri).decode().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                qid, text = str(record["question_id"]), record["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                rejects.add("malformed_prediction", f"{uri}:{n}")
                continue
            if not isinstance(text, str):
                rejects.add("malformed_prediction", f"{uri}:{n}")
            elif qid in found:
                rejects.add("duplicate_prediction", f"{uri}:{n}")
            else:
                found[qid] = text
    return found
