"""Caption corpus readers: Parquet (LAION metadata or any caption column), TSV, JSONL, plain text.

Every reader yields :class:`CaptionBatch` objects (ids and captions as Arrow string arrays)
from a local path or s3:// URI, and counts every record it drops in a
:class:`~compclip.rejects.Rejects` under one of these reasons:

``missing_caption`` (null or absent), ``empty_caption`` (empty or whitespace only),
``too_long`` (over ``max_chars``), ``missing_id``, ``not_utf8``, ``malformed_line`` (TSV row
without a tab), ``malformed_json``, ``not_text`` (a JSON caption that is a number, list, ...).
A Parquet caption column that does not hold text is an error naming the file.

Formats (``fmt``): ``laion`` (Parquet with ``SAMPLE_ID``/``TEXT``), ``parquet`` (caption
column ``caption_column``, optional ``id_column``), ``tsv`` (``id<TAB>caption``, any file
extension), ``jsonl`` (objects with ``caption_column``/``id_column`` fields), ``text`` (one
caption a line; the id is the line number), and ``auto``, which picks by extension and,
for text files, by whether every sampled line holds a tab. Text formats may be compressed
(``.gz``, ``.bz2``, ``.xz``, ``.zst``, by extension).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.compression import compr
from fsspec.utils import infer_compression

from compclip.config import Checked, PositiveInt
from compclip.errors import UserError
from compclip.rejects import Rejects
from compclip.storage import open_uri

FORMATS = ("auto", "laion", "parquet", "tsv", "jsonl", "text")
CAPTION_SUFFIXES = (".parquet", ".tsv", ".txt", ".jsonl", ".ndjson")
COMPRESSED = ("gz", "bz2", "xz", "zst")
READ_CHUNK = 1 << 24
SNIFF_LINES = 20


@dataclass(frozen=True)
class ReadConfig(Checked):
    """How to read a caption file."""

    fmt: str = "auto"
    caption_column: str = "caption"
    id_column: str = "id"
    max_chars: PositiveInt | None = 10_000  # None: no cap
    batch_size: PositiveInt = 1 << 16


@dataclass(frozen=True)
class CaptionBatch:
    ids: pa.Array
    captions: pa.Array

    def __len__(self) -> int:
        return len(self.captions)


def is_caption_file(uri: str) -> bool:
    """Whether a file found inside a folder looks like captions (images and the like are skipped)."""
    suffixes = [s for s in PurePosixPath(uri).suffixes if s.lstrip(".") not in COMPRESSED]
    return bool(suffixes) and suffixes[-1] in CAPTION_SUFFIXES


def detect_format(uri: str, head: bytes) -> str:
    """Pick a format from the file name and its first bytes."""
    suffixes = [s for s in PurePosixPath(uri).suffixes if s.lstrip(".") not in COMPRESSED]
    if head.startswith(b"PAR1") or ".parquet" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        return "jsonl"
    if ".tsv" in suffixes:
        return "tsv"
    lines = [line for line in head.split(b"\n")[:SNIFF_LINES] if line.strip()]
    if lines and all(b"\t" in line for line in lines[:-1] or lines):
        return "tsv"
    return "text"


def read_captions(
    uri: str, config: ReadConfig, rejects: Rejects, source: str | None = None
) -> Iterator[CaptionBatch]:
    """Yield valid caption batches from one file; count what is dropped in ``rejects``.

    ``source`` reads a local copy of ``uri`` instead (messages still name ``uri``).
    """
    if config.fmt not in FORMATS:
        raise UserError(f"unknown format {config.fmt!r}; choose one of {', '.join(FORMATS)}")
    with open_uri(source or uri) as raw:
        compression = infer_compression(uri)
        handle = compr[compression](raw, mode="rb") if compression else raw
        fmt = config.fmt
        if fmt == "auto":
            head = handle.read(1 << 16)
            handle.seek(0)
            fmt = detect_format(uri, head)
        try:
            if fmt in ("parquet", "laion"):
                raw = _parquet_batches(handle, uri, fmt, config)
            else:
                raw = _line_batches(handle, uri, fmt, config, rejects)
            for ids, captions in raw:
                batch = _validate(ids, captions, uri, config, rejects)
                if len(batch):
                    yield batch
        except (pa.ArrowInvalid, OSError) as err:
            raise UserError(f"{uri}: cannot read as {fmt}: {err}") from err


def _parquet_batches(handle, uri: str, fmt: str, config: ReadConfig):
    try:
        parquet = pq.ParquetFile(handle)
    except pa.ArrowInvalid as err:
        raise UserError(f"{uri}: not a Parquet file ({err})") from err
    names = parquet.schema_arrow.names
    if fmt == "laion" or (fmt == "parquet" and "TEXT" in names and config.caption_column not in names):
        caption_col, id_col = "TEXT", "SAMPLE_ID"
    else:
        caption_col, id_col = config.caption_column, config.id_column
    if caption_col not in names:
        raise UserError(f"{uri}: no caption column {caption_col!r} (columns: {', '.join(names)})")
    has_id = id_col in names
    columns = [caption_col, id_col] if has_id else [caption_col]
    row = 0
    for batch in parquet.iter_batches(batch_size=config.batch_size, columns=columns):
        captions = batch.column(caption_col)
        if has_id:
            ids = pc.cast(batch.column(id_col), pa.string())
        else:
            ids = pc.cast(pa.array(range(row, row + batch.num_rows)), pa.string())
        row += batch.num_rows
        yield ids, captions


def _line_batches(handle, uri: str, fmt: str, config: ReadConfig, rejects: Rejects):
    """Lines to (ids, captions) arrays; Arrow kernels do the per-line work for text and TSV."""
    for numbers, texts in _read_lines(handle, uri, config.batch_size, rejects):
        texts = pc.utf8_rtrim(pa.array(texts, pa.string()), characters="\r")
        if fmt == "text":
            yield pc.cast(pa.array(numbers), pa.string()), texts
        elif fmt == "tsv":
            parts = pc.split_pattern(texts, "\t", max_splits=1)
            has_tab = pc.equal(pc.list_value_length(parts), 2)
            malformed = len(texts) - (pc.sum(has_tab).as_py() or 0)
            if malformed:
                first = numbers[pc.index(has_tab, False).as_py()]
                rejects.add("malformed_line", f"{uri}:{first}", malformed)
            parts = pc.filter(parts, has_tab)
            yield pc.utf8_trim_whitespace(pc.list_element(parts, 0)), pc.list_element(parts, 1)
        else:
            ids, captions = [], []
            for number, text in zip(numbers, texts.to_pylist(), strict=True):
                record = _json_record(text, uri, number, rejects)
                if record is not None:
                    key, value = record.get(config.id_column), record.get(config.caption_column)
                    if value is not None and not isinstance(value, str):
                        rejects.add("not_text", f"{uri}:{number}")
                        continue
                    ids.append(None if key is None else str(key))
                    captions.append(value)
            yield pa.array(ids, pa.string()), pa.array(captions, pa.string())


def _json_record(text: str, uri: str, number: int, rejects: Rejects) -> dict | None:
    if not text.strip():
        rejects.add("empty_caption", f"{uri}:{number}")
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = None
    if not isinstance(record, dict):
        rejects.add("malformed_json", f"{uri}:{number}")
        return None
    return record


def _read_lines(handle, uri: str, batch_size: int, rejects: Rejects) -> Iterator[tuple[list[int], list[str]]]:
    """Decoded lines with their 1-based numbers, in batches, without loading the whole file.

    Lines that are not UTF-8 are counted as ``not_utf8`` and dropped.
    """
    rest, first = b"", 1
    reader = io.BufferedReader(handle, READ_CHUNK) if not isinstance(handle, io.BufferedIOBase) else handle
    while True:
        chunk = reader.read(READ_CHUNK)
        data = rest + chunk
        cut = data.rfind(b"\n") if chunk else len(data)
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        if cut > 0 or chunk:
            numbers, texts = _decode(data[:cut], first, uri, rejects)
            first += data.count(b"\n", 0, cut) + 1
            for start in range(0, len(texts), batch_size):
                yield numbers[start : start + batch_size], texts[start : start + batch_size]
        if not chunk:
            return


def _decode(data: bytes, first: int, uri: str, rejects: Rejects) -> tuple[list[int], list[str]]:
    try:
        texts = data.decode("utf-8").split("\n")
        return np.arange(first, first + len(texts)).tolist(), texts
    except UnicodeDecodeError:
        pass
    numbers, texts = [], []
    for number, line in enumerate(data.split(b"\n"), first):
        try:
            texts.append(line.decode("utf-8"))
            numbers.append(number)
        except UnicodeDecodeError:
            rejects.add("not_utf8", f"{uri}:{number}")
    return numbers, texts


def _validate(
    ids: pa.Array, captions: pa.Array, uri: str, config: ReadConfig, rejects: Rejects
) -> CaptionBatch:
    """Drop invalid rows, counting each under its first failing reason."""
    if pa.types.is_binary(captions.type) or pa.types.is_large_binary(captions.type):
        ids, captions = _decode_binary(ids, captions, uri, rejects)
    elif pa.types.is_large_string(captions.type) or pa.types.is_null(captions.type):
        captions = pc.cast(captions, pa.string())
    elif not pa.types.is_string(captions.type):
        raise UserError(f"{uri}: the caption column holds {captions.type}, not text; is it the right column?")
    missing = pc.is_null(captions)
    lengths = pc.fill_null(pc.utf8_length(captions), 0)
    empty = pc.and_(pc.invert(missing), pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(captions)), 0))
    no_cap = pa.array(np.zeros(len(captions), dtype=bool))
    too_long = no_cap if config.max_chars is None else pc.greater(lengths, config.max_chars)
    no_id = pc.or_(pc.is_null(ids), pc.equal(pc.fill_null(pc.utf8_length(ids), 0), 0))
    bad = pa.array(np.zeros(len(captions), dtype=bool))
    for reason, mask in (
        ("missing_caption", missing),
        ("empty_caption", empty),
        ("too_long", too_long),
        ("missing_id", no_id),
    ):
        fresh = pc.and_(pc.fill_null(mask, False), pc.invert(bad))
        count = pc.sum(fresh).as_py() or 0
        if count:
            first = pc.index(fresh, True).as_py()
            rejects.add(reason, f"{uri}: id {ids[first].as_py()}", count)
        bad = pc.or_(bad, pc.fill_null(mask, False))
    keep = pc.invert(bad)
    return CaptionBatch(pc.filter(ids, keep), pc.filter(captions, keep))


def _decode_binary(ids: pa.Array, values: pa.Array, uri: str, rejects: Rejects) -> tuple[pa.Array, pa.Array]:
    """Decode a binary caption column as UTF-8, dropping (and counting) rows that are not."""
    keep, out = [], []
    for i, value in enumerate(values.to_pylist()):
        try:
            out.append(None if value is None else value.decode("utf-8"))
            keep.append(True)
        except UnicodeDecodeError:
            rejects.add("not_utf8", f"{uri}: id {ids[i].as_py()}")
            keep.append(False)
    return pc.filter(ids, pa.array(keep)), pa.array(out, pa.string())
