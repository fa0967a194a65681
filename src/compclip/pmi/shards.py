"""Counting as map-reduce: scan shards, merge a vocabulary, count pairs per shard, merge a table.

The concept vocabulary is every concept in at least ``min_count`` captions of the WHOLE
corpus, so counting takes two rounds and stays exact under sharding::

    scan_shard(files_k, dir_k)          # map 1: per shard, concept counts + encodings
    merge_vocab([dir_1..dir_n], vocab)  # reduce 1: global vocabulary
    count_shard_pairs(dir_k, vocab)     # map 2: per shard, pair counts (no re-tokenizing)
    merge_table([dir_1..dir_n], vocab, table)  # reduce 2: the PMI table

A fan-out whose map 2 cannot be handed map 1's shard (a Kubeflow ``ParallelFor`` iterates over
parameters, not over the scans' artifacts) scans its part again instead (:func:`count_part_pairs`).

Counts are integers and every step is order-independent, so N shards merged give the same
bytes as one shard holding every file (:func:`count_corpus` is exactly that one shard).
A shard folder keeps one unit per file, written atomically: a killed scan that starts again
skips finished files and counts nothing twice.

``mode="released-code"`` reproduces the released code instead: a per-file top-``top_k``
vocabulary by token count, pairs counted only inside each file's own vocabulary, and PMI
from pair marginals with +1/+1000 smoothing (see :mod:`compclip.pmi.table`).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from compclip import __version__, outputs
from compclip.captions import ReadConfig, is_caption_file
from compclip.config import Checked, NonNegativeFloat, PositiveInt, Share
from compclip.errors import UserError
from compclip.files import read_json, read_parquet
from compclip.outputs import add_files, check_place, claimed_work, local_out, release_work
from compclip.pmi import scan
from compclip.pmi.concepts import ConceptRules
from compclip.pmi.pairs import DENSE_LIMIT_BYTES, PairCounter, caption_pair_keys, tri_pairs
from compclip.pmi.table import write_table
from compclip.rejects import Rejects
from compclip.storage import (
    expand,
    is_remote,
    local_copy,
    local_dir,
    write_json,
    write_parquet,
)
from compclip.workfolders import WorkFolder

log = logging.getLogger(__name__)

MODES = ("exact", "released-code")
SHARD, VOCAB, SHARD_PAIRS, UNITS = "shard.json", "vocab.json", "pairs.parquet", "units"


@dataclass(frozen=True)
class CountConfig(Checked):
    """Settings of a PMI count; everything that changes the result is recorded in the header."""

    read: ReadConfig = field(default_factory=ReadConfig)
    min_count: PositiveInt = 5
    mode: str = "exact"
    top_k: PositiveInt = 20_000  # released-code mode: per-file vocabulary size
    smoothing: NonNegativeFloat = 0.0  # add-k on pair counts (exact mode)
    max_reject_share: Share = 0.01  # of a file's records, before its count fails
    workers: PositiveInt = 1
    dense_limit_bytes: PositiveInt = DENSE_LIMIT_BYTES

    @property
    def reading(self) -> ReadConfig:
        """How captions are read: in released-code mode, as that code does (no length cap)."""
        return replace(self.read, max_chars=None) if self.mode == "released-code" else self.read

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mode not in MODES:
            raise UserError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")


@contextmanager
def _pool(workers: int) -> Iterator[Executor]:
    """Forked worker processes sharing the parent's loaded WordNet; in-process for one worker."""
    if workers == 1:
        yield _Inline()
        return
    scan.load_rules()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


class _Inline(Executor):
    def map(self, fn, *iterables, **_):
        return map(fn, *iterables)


def _scan_one(uri: str, units: Path, config: CountConfig, work: WorkFolder | None = None) -> dict:
    """Scan one file unless a finished unit for the same content exists; return its record.

    A remote file is read once: downloaded while hashing, then scanned from the local copy. A
    finished unit is uploaded to the work folder ``work`` (its record last), when given.
    """
    with local_copy(uri) as (path, digest):
        done = scan.load_unit_record(units, uri)
        if done is not None and done["sha256"] == digest:
            log.info("%s: already scanned, skipping", uri)
            return done
        unit = scan.scan_file(uri, config.reading, config.max_reject_share, digest, source=str(path))
    scan.save_unit(unit, units)
    if work is not None:
        work.push(*(f"{UNITS}/{name}" for name in scan.unit_files(uri)))
    return scan.load_unit_record(units, uri)


def scan_shard(
    inputs: list[str], out: str | os.PathLike, config: CountConfig, work_dir: str | None = None
) -> dict:
    """Map 1: scan every input file into the shard folder ``out`` (a path or s3:// URI).

    With ``work_dir`` (a path or s3:// prefix) each scanned file is kept there too until the shard
    is written, so a scan killed on one node resumes on another without re-reading those files.
    """
    files = expand(inputs, keep=is_caption_file)
    work = WorkFolder(work_dir, "pmi-scan", pull=(UNITS,)) if work_dir else None
    with local_out(str(out)) as folder:
        summary = _scan_into(files, folder, config, folder / UNITS, work)
    if work is not None:
        work.remove()
    return summary


def _scan_into(
    files: list[str], out: Path, config: CountConfig, units: Path, work: WorkFolder | None = None
) -> dict:
    """Scan ``files`` (units into ``units``; a restarted scan skips finished ones) and summarise them.
    With ``work``, the units are made in its folder, then copied into ``units``."""
    progress = tqdm(files, "scan", unit="file", disable=len(files) < 2)
    scanned = units if work is None else work.local / UNITS
    records = [_scan_one(uri, scanned, config, work) for uri in progress]
    if work is not None:
        units.mkdir(parents=True, exist_ok=True)
        for name in (n for r in records for n in scan.unit_files(r["uri"])):
            shutil.copyfile(scanned / name, units / name)
    tables = [scan.load_unit(units, r["uri"], with_encoding=False).concepts for r in records]
    write_parquet(out / "concepts.parquet", _sum_concepts(tables))
    rejects = Rejects()
    for r in records:
        rejects.counts.update(r["rejects"])
    summary = {
        "kind": "pmi-shard",
        "units": os.path.relpath(units, out),
        "files": [{"uri": r["uri"], "sha256": r["sha256"], "n_captions": r["n_captions"]} for r in records],
        "n_captions": sum(r["n_captions"] for r in records),
        "rejects": rejects.as_dict(),
        "config": asdict(config),
    }
    write_json(out / SHARD, summary)
    return summary


def _sum_concepts(tables: list[pa.Table]) -> pa.Table:
    """Concept counts summed over tables, sorted by concept."""
    if not tables:
        return pa.table({"concept": pa.array([], pa.string()), "captions": [], "tokens": []})
    grouped = pa.concat_tables(tables).group_by("concept").aggregate([("captions", "sum"), ("tokens", "sum")])
    grouped = grouped.rename_columns(["concept", "captions", "tokens"])
    return grouped.sort_by("concept")


def _read_shard(folder: Path) -> dict:
    path = folder / SHARD
    if not path.is_file():
        raise UserError(f"{folder}: not a PMI shard (no {SHARD}); run `compclip pmi count --shard` first")
    return read_json(path, required=("files",))


def corpus_fingerprint(shas: list[str]) -> str:
    """One sha256 over the sorted content hashes of every file: independent of paths and sharding."""
    return hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest()


def _file_top_k(concepts: pa.Table, k: int) -> list[str]:
    """The released code's per-file vocabulary: the k most frequent by tokens (ties by concept)."""
    ordered = concepts.sort_by([("tokens", "descending"), ("concept", "ascending")])
    return ordered.column("concept").to_pylist()[:k]


def merge_vocab(shards: list[str | os.PathLike], out: str | os.PathLike, config: CountConfig) -> dict:
    """Reduce 1: the global vocabulary (written to ``out``) from shard concept counts."""
    released = config.mode == "released-code"

    def needed(name: str) -> bool:  # the per-file concept tables only where the mode reads them
        return name in (SHARD, "concepts.parquet") or (released and not name.endswith(".npz"))

    with ExitStack() as stack:
        folders = [stack.enter_context(local_dir(str(s), include=needed)) for s in shards]
        with local_out(str(out)) as folder:
            return _merge_vocab(folders, folder, config)


def _merge_vocab(shards: list[Path], out: Path, config: CountConfig) -> dict:
    summaries = [_read_shard(s) for s in shards]
    files = [f for s in summaries for f in s["files"]]
    if len({f["sha256"] for f in files}) < len(files):
        raise UserError("the same file content appears in more than one shard; it would be counted twice")
    totals = _sum_concepts([read_parquet(s / "concepts.parquet") for s in shards])
    if config.mode == "exact":
        keep = pc.greater_equal(totals.column("captions"), config.min_count)
        vocab = totals.filter(keep)
    else:
        top = set()
        for shard, summary in zip(shards, summaries, strict=True):
            for f in summary["files"]:
                unit = scan.load_unit(shard / summary["units"], f["uri"], with_encoding=False)
                top.update(_file_top_k(unit.concepts, config.top_k))
        vocab = totals.filter(pc.is_in(totals.column("concept"), pa.array(sorted(top), pa.string())))
    rejects = Rejects()
    for s in summaries:
        rejects.counts.update(s["rejects"])
    header = {
        "kind": "pmi-vocab",
        "n_captions": sum(s["n_captions"] for s in summaries),
        "n_files": len(files),
        "corpus_sha256": corpus_fingerprint([f["sha256"] for f in files]),
        "rejects": rejects.as_dict(),
        "n_concepts_seen": totals.num_rows,
        **_settings(config),
    }
    write_parquet(out / "vocab.parquet", vocab.select(["concept", "captions"]))
    write_json(out / VOCAB, header)
    log.info("vocabulary: %d of %d concepts", vocab.num_rows, totals.num_rows)
    return header


def _settings(config: CountConfig) -> dict:
    """What changes the result, for the header (reading limits included)."""
    return {
        "mode": config.mode,
        "min_count": config.min_count if config.mode == "exact" else None,
        "top_k_per_file": config.top_k if config.mode == "released-code" else None,
        "smoothing": {"pair_k": config.smoothing, "log_base": "e"},
        "max_caption_chars": config.reading.max_chars,
    }


def _read_vocab(folder: Path) -> tuple[dict, list[str], np.ndarray]:
    if not (folder / VOCAB).is_file():
        raise UserError(
            f"{folder}: not a PMI vocabulary (no {VOCAB}); run `compclip pmi merge` on scanned shards"
        )
    vocab = read_parquet(folder / "vocab.parquet", columns=("concept", "captions"))
    header = read_json(folder / VOCAB, required=("n_captions", "corpus_sha256", "mode"))
    return header, vocab.column("concept").to_pylist(), vocab.column("captions").to_numpy()


def count_shard_pairs(shard: str | os.PathLike, vocab: str | os.PathLike, config: CountConfig) -> dict:
    """Map 2: count the shard's in-vocabulary pairs from its stored encodings, into the shard folder.

    ``pairs.json``, written (or uploaded) after ``pairs.parquet``, marks the shard's pairs done.
    """
    shard = str(shard)
    with local_dir(shard, include=lambda name: not name.startswith("pairs.")) as folder:
        with local_dir(str(vocab)) as vocab_dir:
            record = _count_pairs(folder, vocab_dir, config)
        add_files(folder, shard, [SHARD_PAIRS, "pairs.json"])
    return record


def _count_pairs(shard: Path, vocab_dir: Path, config: CountConfig) -> dict:
    # Mode and per-file vocabulary size come from the vocabulary, so every shard agrees.
    summary = _read_shard(shard)
    header, names, _ = _read_vocab(vocab_dir)
    index = {c: i for i, c in enumerate(names)}
    counter = PairCounter(len(names), max(summary["n_captions"], 1), config.dense_limit_bytes)
    for f in tqdm(summary["files"], desc="pairs", unit="file", disable=len(summary["files"]) < 2):
        unit = scan.load_unit(shard / summary["units"], f["uri"])
        local = unit.concepts.column("concept").to_pylist()
        released = header["mode"] == "released-code"
        allowed = set(_file_top_k(unit.concepts, header["top_k_per_file"])) if released else index
        lut = np.array([index[c] if c in allowed and c in index else -1 for c in local] or [-1], np.int64)
        counter.add_keys(caption_pair_keys(unit.encoded, lut, len(names)))
    keys, counts = counter.items()
    write_parquet(shard / SHARD_PAIRS, pa.table({"key": keys, "count": counts}))
    record = {"vocab_corpus_sha256": header["corpus_sha256"], "n_pairs": len(keys)}
    write_json(shard / "pairs.json", record)
    return record


def merge_table(
    shards: list[str | os.PathLike], vocab: str | os.PathLike, out: str | os.PathLike, config: CountConfig
) -> dict:
    """Reduce 2: sum shard pair counts and write the PMI table to ``out``."""
    with ExitStack() as stack:
        folders = [
            stack.enter_context(local_dir(str(s), include=lambda n: n.startswith("pairs."))) for s in shards
        ]
        vocab_dir = stack.enter_context(local_dir(str(vocab)))
        with local_out(str(out)) as folder:
            return _merge_table(folders, vocab_dir, folder, config)


def _merge_table(shards: list[Path], vocab_dir: Path, out: Path, config: CountConfig) -> dict:
    header, names, captions = _read_vocab(vocab_dir)
    counter = PairCounter(len(names), max(header["n_captions"], 1), config.dense_limit_bytes)
    for shard in tqdm(shards, desc="merge", unit="shard", disable=len(shards) < 2):
        done = shard / "pairs.json"
        if (
            not done.is_file()
            or read_json(done, required=("vocab_corpus_sha256",))["vocab_corpus_sha256"]
            != header["corpus_sha256"]
        ):
            raise UserError(
                f"{shard}: no pair counts for this vocabulary; run `compclip pmi count --shard --vocab`"
            )
        pairs = read_parquet(shard / SHARD_PAIRS, columns=("key", "count"))
        counter.add_counts(pairs.column("key").to_numpy(), pairs.column("count").to_numpy())
    keys, counts = counter.items()
    marginals = None
    if header["mode"] == "released-code":
        a, b = tri_pairs(keys, len(names))
        marginals = np.bincount(a, counts, len(names)) + np.bincount(b, counts, len(names))
        marginals = marginals.astype(np.int64)
    table_header = {
        **{k: v for k, v in header.items() if k != "kind"},
        "kind": "pmi-table",
        "compclip_version": __version__,
        "concepts": ConceptRules().provenance,
    }
    return write_table(out, names, captions, keys, counts, table_header, marginals)


def split_files(files: list[str], n: int) -> list[list[str]]:
    """Deal sorted files round-robin into ``n`` shards (some empty when there are fewer files)."""
    if n < 1:
        raise UserError(f"the number of shards must be at least 1, not {n}")
    return [files[i::n] for i in range(n)]


def parse_part(part: str) -> tuple[int, int]:
    """``"I/N"`` (shard I of N, from 0) as ``(I, N)``; raises a UserError on anything else."""
    index, sep, total = part.partition("/")
    if not (sep and index.isdigit() and total.isdigit() and int(index) < int(total)):
        raise UserError(f"shard part {part!r} must be I/N with 0 <= I < N, e.g. 0/4")
    return int(index), int(total)


def plan_parts(inputs: list[str], n: int) -> list[str]:
    """The non-empty parts (``"I/N"``) of a corpus dealt into ``n`` shards, for a fan-out."""
    files = expand(inputs, keep=is_caption_file)
    if not files:
        raise UserError(f"no caption files in {' '.join(inputs)}")
    n = min(n, len(files))
    return [f"{i}/{n}" for i, part in enumerate(split_files(files, n)) if part]


def scan_part(
    inputs: list[str], part: str, out: str | os.PathLike, config: CountConfig, work_dir: str | None = None
) -> dict:
    """Map 1 of a fanned-out count: scan part ``I/N`` of the caption files ``inputs`` into the shard
    ``out`` (:func:`scan_shard`, ``work_dir`` as there); a bad file fails naming the part."""
    index, n = parse_part(part)
    files = split_files(expand(inputs, keep=is_caption_file), n)[index]
    try:
        return scan_shard(files, out, config, work_dir)
    except UserError as err:
        raise UserError(f"shard {part}: {err}") from err


def count_part_pairs(
    inputs: list[str], part: str, vocab: str | os.PathLike, out: str | os.PathLike, config: CountConfig
) -> dict:
    """Map 2 from the corpus itself: scan part ``I/N`` of ``inputs`` again (into a temporary folder)
    and write its pair counts for ``vocab`` into ``out``, which holds only what :func:`merge_table`
    reads. Costs a second scan of the part; reads no other task's output."""
    with tempfile.TemporaryDirectory(prefix="compclip-pmi-part-") as tmp:
        scanned = Path(tmp) / "shard"
        scan_part(inputs, part, scanned, config)
        record = count_shard_pairs(scanned, vocab, config)
        with local_out(str(out)) as folder:
            for name in (SHARD_PAIRS, "pairs.json"):
                shutil.move(scanned / name, folder / name)
    return record


def work_dir(out: str) -> Path:
    """Where a whole-corpus count keeps its work files, so that a killed run resumes (``.NAME.pmi-work``)."""
    return outputs.work_dir(out, "pmi")


def count_corpus(
    inputs: list[str], out: str | os.PathLike, config: CountConfig, work: str | os.PathLike | None = None
) -> dict:
    """Count a whole corpus on this machine into the table ``out`` (a path or s3:// URI).

    The files split into one shard per worker, then reduce. Work files live in ``work`` (default
    :func:`work_dir`) until the table is written, so a killed run resumes where it stopped.
    """
    start = time.perf_counter()
    if work is not None and is_remote(str(work)):
        raise UserError(
            f"--work-dir {work}: a whole-corpus count works in a local folder (its worker processes "
            "share it); on a cluster, count in shards (`--shard`, the pipeline's scan tasks)"
        )
    work = Path(work) if work is not None else work_dir(str(out))
    check_place(str(out))
    with claimed_work(str(work), "pmi"):  # a refused or failed first run leaves no folder
        files = expand(inputs, keep=is_caption_file)
        n = max(1, min(config.workers, len(files)))
        shards = [work / f"shard-{i:03d}" for i in range(n)]
        vocab = work / "vocab"
        with _pool(n) as pool:
            parts = split_files(files, n)
            list(pool.map(_scan_into, parts, shards, [config] * n, [work / UNITS] * n))
            vocab.mkdir(parents=True, exist_ok=True)
            _merge_vocab(shards, vocab, config)
            list(pool.map(_count_pairs, shards, [vocab] * n, [config] * n))
        with local_out(str(out)) as folder:
            header = _merge_table(shards, vocab, folder, config)
            seconds = time.perf_counter() - start
            metrics = {
                "n_captions": header["n_captions"],
                "n_rejected": sum(header["rejects"].values()),
                **{f"rejects/{k}": v for k, v in header["rejects"].items()},
                "n_concepts": header["n_concepts"],
                "n_pairs": header["n_pairs"],
                "seconds": round(seconds, 3),
                "captions_per_second": round(header["n_captions"] / max(seconds, 1e-9), 1),
            }
            write_json(folder / "metrics.json", metrics)
    release_work(str(work))
    return header
