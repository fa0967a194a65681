"""Files of the negatives stage: caption input, the resumable progress log, DeGLA JSON, Parquet, metrics.

- Input: a dataset folder (its ``captions.parquet``: ``id``, ``caption``, ``image``) or any
  caption file :func:`compclip.captions.read_captions` reads; local or s3://.
- ``progress.jsonl`` (in the work folder, ``--work-dir``, until the output is published; then
  a copy in the output): one finished caption a line, with its negatives and its counts, appended
  after every chunk; ``progress.json`` records the config it belongs to.
- ``negatives.json``: DeGLA's format, a list of ``{"image_id", "original", "enhanced": [...],
  "types": [...]}`` (``types`` parallel to ``enhanced``), captions without any negative left out.
- ``negatives.parquet``: one row per negative: ``image_id``, ``original``, ``negative``, ``type``.
- ``metrics.json``: flat counts and shares.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from compclip.captions import ReadConfig, read_captions
from compclip.errors import UserError
from compclip.files import parse_json, read_json
from compclip.negatives.types import TYPES, Record
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, filesystem, is_dir, read_bytes, write_json, write_parquet

log = logging.getLogger(__name__)

PROGRESS, PROGRESS_HEADER = "progress.jsonl", "progress.json"
JSON, PARQUET, METRICS = "negatives.json", "negatives.parquet", "metrics.json"
DATASET_CAPTIONS, DATASET_HEADER = "captions.parquet", "dataset.json"
PARQUET_COLUMNS = ("image_id", "original", "negative", "type")


def caption_file(uri: str) -> str:
    """The caption file of ``uri``: a dataset folder's ``captions.parquet``, or ``uri`` itself."""
    fs, path = filesystem(uri)
    if fs.isdir(path):
        inner = uri.rstrip("/") + "/" + DATASET_CAPTIONS
        if not fs.exists(path.rstrip("/") + "/" + DATASET_CAPTIONS):
            raise UserError(f"{uri}: a folder without {DATASET_CAPTIONS}")
        return inner
    return uri


def read_inputs(uri: str, config: ReadConfig, rejects: Rejects) -> Iterator[tuple[str, str]]:
    """``(id, caption)`` pairs of a dataset folder or caption file; bad rows counted in ``rejects``."""
    for batch in read_captions(caption_file(uri), config, rejects):
        yield from zip(batch.ids.to_pylist(), batch.captions.to_pylist(), strict=True)


def record_problem(record: Any, known_types: Collection[str] | None = TYPES) -> str | None:
    """Why a negatives record is malformed (a reject reason), or None; ``known_types=None`` takes any type."""
    if not isinstance(record, dict):
        return "not_an_object"
    for key in ("image_id", "original"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            return f"missing_{key}"
    enhanced, types = record.get("enhanced"), record.get("types")
    if not isinstance(enhanced, list) or not all(isinstance(e, str) for e in enhanced):
        return "bad_enhanced"
    if not isinstance(types, list) or len(types) != len(enhanced):
        return "types_not_parallel"
    if not all(isinstance(t, str) for t in types):
        return "types_not_parallel"
    if known_types is not None and any(t not in known_types for t in types):
        return "unknown_type"
    return None


def caption_key(image_id: str, caption: str) -> tuple[str, str]:
    """What negatives belong to: one caption of one image (COCO-style data has five an image)."""
    return image_id, caption.strip()


def _negatives_file(uri: str) -> str:
    """``uri`` itself, or its ``negatives.json`` when it is the folder ``negatives generate`` wrote."""
    return f"{uri.rstrip('/')}/{JSON}" if is_dir(uri) else uri


def read_negatives(uri: str, rejects: Rejects, known_types: Collection[str] | None = TYPES) -> list[Record]:
    """One record per caption of a DeGLA negatives JSON file or of the folder holding it (local or
    s3://), in file order.

    Records are keyed by :func:`caption_key`: several records of one caption are merged (their
    negatives in file order), and the captions of one image stay apart. Malformed records are
    skipped and counted by :func:`record_problem`'s reason.
    """
    uri = _negatives_file(uri)
    data = parse_json(read_bytes(uri), uri)
    if not isinstance(data, list):
        raise UserError(f"{uri}: expected a JSON list of records")
    records: dict[tuple[str, str], Record] = {}
    for n, item in enumerate(data):
        problem = record_problem(item, known_types)
        if problem:
            rejects.add(problem, f"{uri}[{n}]")
            continue
        key = caption_key(item["image_id"], item["original"])
        record = records.setdefault(key, Record(item["image_id"], item["original"]))
        record.enhanced.extend(item["enhanced"])
        record.types.extend(item["types"])
    return list(records.values())


def start_progress(out: Path, fingerprint: dict) -> tuple[list[tuple[Record, Counter]], Rejects]:
    """Open ``out`` for a run: earlier progress of the same config (records with their counts).

    A truncated or malformed progress line (a killed run) is counted and its caption redone.
    """
    header = out / PROGRESS_HEADER
    fingerprint = json.loads(json.dumps(fingerprint))  # tuples as lists, as read back
    found: list[tuple[Record, Counter]] = []
    bad = Rejects()
    if header.is_file():
        earlier = read_json(header)
        if earlier != fingerprint:
            raise UserError(f"{out} holds a run with another config ({header}); use a new --out folder")
        lines = (out / PROGRESS).read_text().splitlines() if (out / PROGRESS).is_file() else []
        for n, line in enumerate(lines, 1):
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                item = None
            problem = record_problem(item) or (
                None if isinstance(item.get("counts"), dict) else "missing_counts"
            )
            if problem:
                bad.add(f"progress_{problem}", f"{out / PROGRESS}:{n}")
                continue
            record = Record(item["image_id"], item["original"], item["enhanced"], item["types"])
            found.append((record, Counter(item["counts"])))
        if bad.total:
            # rewrite without the bad lines, so appends start on a clean line
            atomic_write_bytes(out / PROGRESS, b"".join(_progress_line(r, c) for r, c in found))
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(header, fingerprint)
        (out / PROGRESS).unlink(missing_ok=True)
    return found, bad


def append_progress(out: Path, done: list[tuple[Record, Counter]]) -> None:
    with open(out / PROGRESS, "ab") as handle:
        handle.write(b"".join(_progress_line(r, c) for r, c in done))


def _progress_line(record: Record, counts: Counter) -> bytes:
    return (json.dumps({**record.as_json(), "counts": dict(counts)}) + "\n").encode()


def write_outputs(out: Path, records: list[Record], metrics: dict) -> None:
    """``negatives.json`` (records with at least one negative), ``negatives.parquet`` and ``metrics.json``."""
    kept = [r.as_json() for r in records if r.enhanced]
    atomic_write_bytes(out / JSON, json.dumps(kept, indent=1, ensure_ascii=False).encode())
    rows = [(r.image_id, r.original, n, t) for r in records for n, t in zip(r.enhanced, r.types, strict=True)]
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    table = pa.table(
        {name: pa.array(col, pa.string()) for name, col in zip(PARQUET_COLUMNS, columns, strict=True)}
    )
    write_parquet(out / PARQUET, table)
    write_json(out / METRICS, metrics)
    log.info("wrote %s: %d records, %d negatives", out, len(kept), len(rows))
