"""Pass 1 over one caption file: read, validate, extract concepts, and keep the encoding.

A scanned file (a *unit*) is stored as three files named after its URI, written so that a
killed run leaves either a complete unit or none (the JSON, written last, marks it done):

- ``<name>.concepts.parquet``: ``concept``, ``captions`` (captions containing it) and
  ``tokens`` (occurrences, repeats included), in encoding-id order;
- ``<name>.encoded.npz``: each valid caption's concept ids (CSR ``offsets``/``ids``), so the pair
  pass never tokenizes again;
- ``<name>.json``: URI, content sha256, caption and reject counts.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from compclip.captions import ReadConfig, read_captions
from compclip.files import read_json, read_parquet
from compclip.pmi.concepts import ConceptRules
from compclip.pmi.encode import ConceptEncoder, Encoded
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, sha256_file, write_json

log = logging.getLogger(__name__)


@dataclass
class Unit:
    """A scanned file: its concept table, encoding and counts."""

    uri: str
    sha256: str
    n_captions: int
    rejects: Rejects = field(default_factory=Rejects)
    concepts: pa.Table | None = None
    encoded: Encoded | None = None


def unit_name(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:20]


@lru_cache(maxsize=1)
def load_rules() -> ConceptRules:
    """One ConceptRules per process (loading WordNet takes seconds)."""
    return ConceptRules()


def scan_file(
    uri: str, read: ReadConfig, max_reject_share: float, digest: str | None = None, source: str | None = None
) -> Unit:
    """Read and encode one caption file (from a local copy ``source`` if given); raise a UserError
    when too many records are bad."""
    start = time.perf_counter()
    encoder = ConceptEncoder(load_rules())
    rejects = Rejects()
    offsets, ids, n = [np.zeros(1, np.int64)], [], 0
    progress = tqdm(desc=PurePosixPath(uri).name, unit="caption", unit_scale=True, leave=False, mininterval=2)
    for batch in read_captions(uri, read, rejects, source):
        encoded = encoder.encode(batch.captions)
        offsets.append(encoded.offsets[1:] + offsets[-1][-1])
        ids.append(encoded.ids)
        n += len(batch)
        progress.update(len(batch))
    progress.close()
    rejects.check(n + rejects.total, max_reject_share, uri)
    all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    n_concepts = len(encoder.names)
    captions = np.bincount(all_ids, minlength=n_concepts)
    tokens = encoder.token_totals(n_concepts)
    table = pa.table(
        {"concept": pa.array(encoder.names, pa.string()), "captions": captions, "tokens": tokens}
    )
    log.info(
        "%s: %d captions, %d rejected %s, %d concepts, %.0f captions/s",
        uri,
        n,
        rejects.total,
        rejects.as_dict(),
        n_concepts,
        n / max(time.perf_counter() - start, 1e-9),
    )
    return Unit(uri, digest or sha256_file(uri), n, rejects, table, Encoded(np.concatenate(offsets), all_ids))


def unit_files(uri: str) -> list[str]:
    """The files of a unit, the record (which marks it finished) last."""
    name = unit_name(uri)
    return [f"{name}.concepts.parquet", f"{name}.encoded.npz", f"{name}.json"]


def save_unit(unit: Unit, folder: Path) -> None:
    name = unit_name(unit.uri)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pq.write_table(unit.concepts, buffer)
    atomic_write_bytes(folder / f"{name}.concepts.parquet", buffer.getvalue())
    buffer = io.BytesIO()
    np.savez(buffer, offsets=unit.encoded.offsets, ids=unit.encoded.ids)
    atomic_write_bytes(folder / f"{name}.encoded.npz", buffer.getvalue())
    record = {
        "uri": unit.uri,
        "sha256": unit.sha256,
        "n_captions": unit.n_captions,
        "rejects": unit.rejects.as_dict(),
        "reject_examples": unit.rejects.examples,
    }
    write_json(folder / f"{name}.json", record, sort_keys=False)


def load_unit_record(folder: Path, uri: str) -> dict | None:
    path = folder / f"{unit_name(uri)}.json"
    return read_json(path) if path.is_file() else None


def load_unit(folder: Path, uri: str, with_encoding: bool = True) -> Unit:
    name = unit_name(uri)
    record = read_json(folder / f"{name}.json", required=("uri", "sha256", "n_captions", "rejects"))
    rejects = Rejects()
    rejects.counts.update(record["rejects"])
    rejects.examples.extend(record["reject_examples"])
    unit = Unit(record["uri"], record["sha256"], record["n_captions"], rejects)
    unit.concepts = read_parquet(folder / f"{name}.concepts.parquet")
    if with_encoding:
        with np.load(folder / f"{name}.encoded.npz", allow_pickle=False) as arrays:
            unit.encoded = Encoded(arrays["offsets"], arrays["ids"])
    return unit
