"""The VQA stages: LLaVA predictions (resumable, shardable) and the PMI analysis of predictions.

``predict`` answers the questions of a VQAv2/TextVQA file with LLaVA-1.5 in chunks (this shard's
chunks only; :mod:`compclip.chunks`) and writes ``predictions.jsonl`` in LLaVA's evaluation
format. ``analyze`` joins predictions (from files, or made in-process) with the questions and a PMI
table and writes ``metrics.json``, ``questions.parquet``, ``bins.json``, ``plots/`` and ``report.html``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from compclip import outputs, storage
from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.evaluate.stats import StatsConfig
from compclip.pmi import PMITable
from compclip.rejects import Rejects
from compclip.vqa.analysis import analyze_rows, question_rows
from compclip.vqa.data import read_predictions, read_questions
from compclip.vqa.llava import Answerer, LlavaAnswerer, LlavaConfig, prediction
from compclip.vqa.report import write_report

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"


@dataclass(frozen=True)
class VqaConfig:
    chunk: int = 256  # questions per unit of work (resume and shard granularity)
    max_reject_share: float = 0.05  # malformed records and questions without a prediction
    llava: LlavaConfig = field(default_factory=LlavaConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    ocr_words: str = "include"  # TextVQA's OCR tokens scored with the question (released) or "drop"ped


def _write_predictions(folder: Path, rows: list[dict]) -> None:
    storage.atomic_write_bytes(folder / PREDICTIONS, "".join(json.dumps(r) + "\n" for r in rows).encode())


def predict(
    questions: str,
    annotations: str | None,
    images: str,
    out: str,
    config: VqaConfig = VqaConfig(),
    shard: Shard | None = None,
    work_dir: str | Path | None = None,
    answerer: Callable[[str], Answerer] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """LLaVA's answers to this shard's questions into ``out/predictions.jsonl``; returns metrics.

    ``answerer(dataset)`` makes the model (default: load ``config.llava``), only if work is left.
    """
    shard, out = shard or Shard(), str(out)
    rejects = Rejects()
    dataset, found = read_questions(questions, annotations, rejects)
    fingerprint = {"questions": questions, "annotations": annotations, "images": images,
                   "chunk": config.chunk, "llava": dataclasses.asdict(config.llava),
                   "shard": dataclasses.asdict(shard)}  # fmt: skip
    fingerprint["llava"].pop("device")
    work = Work(work_folder(work_dir, out, "vqa", shard), fingerprint)
    model: list[Answerer] = []
    model_id = Path(config.llava.model.rstrip("/")).name

    def process(items: range) -> tuple[list[dict], Rejects]:
        if not model:
            model.append((answerer or (lambda d: LlavaAnswerer.load(config.llava, images, d)))(dataset))
        batch = [found[i] for i in items]
        return [
            prediction(q, t, model_id) for q, t in zip(batch, model[0].answer(batch), strict=True)
        ], Rejects()

    chunks = shard.chunks(len(found), config.chunk)
    rows, _, resumed = run_chunks(work, chunks, process, after_chunk)
    metrics = {"n": len(rows), "chunks": len(chunks), "chunks_resumed": resumed, "dataset": dataset,
               **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
    with outputs.local_out(out) as folder:
        _write_predictions(folder, rows)
        storage.write_json(folder / "metrics.json", metrics)
    work.remove()
    return metrics


def analyze(
    questions: str,
    annotations: str | None,
    predictions: list[str],
    pmi: str,
    out: str,
    config: VqaConfig = VqaConfig(),
) -> dict:
    """Accuracy and yes-bias against PMI of ``predictions`` (LLaVA JSONL files) into ``out``."""
    rejects, skipped = Rejects(), Rejects()
    dataset, found = read_questions(questions, annotations, rejects)
    answers = read_predictions(predictions, rejects)
    table = PMITable.load(pmi)
    rows = question_rows(found, answers, table, rejects, skipped, config.ocr_words)
    n_seen = len(found) + rejects.counts["malformed_question"] + rejects.counts["no_answers"]
    rejects.check(n_seen, config.max_reject_share, f"vqa-pmi {questions}")
    metrics, bins = analyze_rows(rows, config.stats)
    metrics.update({f"rejects/{k}": v for k, v in rejects.as_dict().items()})
    metrics.update({f"skipped/{k}": v for k, v in skipped.as_dict().items()})
    metrics["questions"] = len(found)
    inputs = {"questions": questions, "annotations": annotations, "predictions": predictions, "pmi": str(pmi)}
    settings = {
        "dataset": dataset,
        **inputs,
        "stats": dataclasses.asdict(config.stats),
        "ocr_words": config.ocr_words,
        "pmi_table": table.header,
    }
    with outputs.local_out(out) as folder:
        storage.write_json(folder / "metrics.json", metrics)
        storage.write_json(folder / "bins.json", {name: b.rows() for name, b in bins.items()})
        storage.write_parquet(folder / "questions.parquet", pa.Table.from_pylist(rows))
        write_report(folder, f"compclip vqa-pmi: {dataset}", metrics, bins, settings)
    log.info("%s: %d questions scored, accuracy %.3f, r = %s", dataset, metrics["n"], metrics["acc"],
             metrics.get("pearson_r"))  # fmt: skip
    return metrics
