"""Resumable, shardable generation: work in chunks, one atomic record per finished chunk.

A generator's items are cut into chunks of a fixed size; shard ``i/n`` takes chunks ``i, i+n, ...``
(so pipeline tasks fan out over pair chunks). A chunk's images go into ``WORK/images/`` and then
its record ``WORK/chunks/NNNNNN.json`` (its items and reject counts) is written atomically: a chunk
with a record is done, so a killed job restarted on the same work folder neither repeats nor loses
an item. ``plan.json`` holds the run's fingerprint; a work folder of another run is refused.
At the end the items go into an evaluation-set folder through :func:`compclip.storage.local_out`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from compclip.errors import UserError
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, local_dir, local_out, write_json, write_parquet

log = logging.getLogger(__name__)

PLAN, CHUNKS, IMAGES = "plan.json", "chunks", "images"


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` with 0 <= i < n."""
        try:
            index, count = (int(x) for x in text.split("/"))
        except ValueError:
            raise UserError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
        if not 0 <= index < count:
            raise UserError(f"--shard {text}: need 0 <= i < n")
        return cls(index, count)

    def chunks(self, n_items: int, size: int) -> list[tuple[int, range]]:
        """This shard's ``(chunk index, item range)`` of ``range(n_items)`` in chunks of ``size``."""
        chunks = [(k, range(s, min(s + size, n_items))) for k, s in enumerate(range(0, n_items, size))]
        return chunks[self.index :: self.count]


class Work:
    """A work folder: its plan and the records of finished chunks."""

    def __init__(self, folder: Path, fingerprint: dict) -> None:
        self.folder = folder
        (folder / CHUNKS).mkdir(parents=True, exist_ok=True)
        (folder / IMAGES).mkdir(exist_ok=True)
        plan = folder / PLAN
        text = json.dumps(fingerprint, sort_keys=True, default=str)
        if plan.is_file() and plan.read_text() != text:
            raise UserError(f"{folder} holds the work of another run; delete it or pass another --work-dir")
        atomic_write_bytes(plan, text.encode())

    @property
    def images(self) -> Path:
        return self.folder / IMAGES

    def record(self, index: int) -> Path:
        return self.folder / CHUNKS / f"{index:06d}.json"

    def done(self, index: int) -> bool:
        return self.record(index).is_file()

    def finish(self, index: int, items: list[dict], rejects: Rejects) -> None:
        write_json(self.record(index), {"items": items, "rejects": rejects.as_dict()})

    def read(self, indices: list[int]) -> tuple[list[dict], Rejects]:
        items, rejects = [], Rejects()
        for index in indices:
            data = json.loads(self.record(index).read_text())
            items.extend(data["items"])
            for reason, n in data["rejects"].items():
                rejects.add(reason, n=n)
        return items, rejects


def run_chunks(
    work: Work,
    chunks: list[tuple[int, range]],
    process: Callable[[range], tuple[list[dict], Rejects]],
    after_chunk: Callable[[int], None] | None = None,
) -> tuple[list[dict], Rejects, int]:
    """Process every chunk without a record; return all items, their rejects and the chunks resumed.

    ``after_chunk(index)`` is called after each chunk's record is written (progress reporting).
    """
    resumed = 0
    for index, items in tqdm(chunks, desc="chunks", unit="chunk", mininterval=2):
        if work.done(index):
            resumed += 1
            continue
        found, rejects = process(items)
        work.finish(index, found, rejects)
        if after_chunk is not None:
            after_chunk(index)
    found, rejects = work.read([index for index, _ in chunks])
    return found, rejects, resumed


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_evalset(
    out: str, items: list[dict], schema: pa.Schema, images: Path, header: dict, metrics: dict
) -> None:
    """Write the set at ``out``: ``images/``, ``items.parquet``, ``evalset.json``, ``metrics.json``."""
    with local_out(out) as folder:
        for item in items:
            link_or_copy(images / Path(item["image"]).name, folder / item["image"])
        write_parquet(folder / "items.parquet", pa.Table.from_pylist(items, schema=schema))
        write_json(folder / "evalset.json", {"kind": "zeroshot", "n": len(items), **header})
        write_json(folder / "metrics.json", metrics)
    log.info("wrote %d items to %s", len(items), out)


def merge_evalsets(inputs: list[str], out: str) -> dict:
    """One evaluation set from the outputs of a job's shards; returns the summed metrics.

    Every shard must come from the same run (same header but for ``n`` and ``shard``); ids must
    not repeat. Numeric metrics are summed, others must agree.
    """
    if not inputs:
        raise UserError("merge: no shard folders given")
    tables, headers, metrics = [], [], []
    with _staged(inputs) as folders, local_out(out) as target:
        for uri, folder in zip(inputs, folders, strict=True):
            if not (folder / "evalset.json").is_file():
                raise UserError(f"{uri}: not an evaluation set (no evalset.json)")
            headers.append(json.loads((folder / "evalset.json").read_text()))
            metrics.append(json.loads((folder / "metrics.json").read_text()))
            tables.append(pq.read_table(folder / "items.parquet"))
        common = [{k: v for k, v in h.items() if k not in ("n", "shard")} for h in headers]
        if any(c != common[0] for c in common):
            raise UserError(f"merge: the shards come from different runs ({inputs[0]} vs the others)")
        items = pa.concat_tables(tables)
        ids = items.column("id").to_pylist()
        if len(set(ids)) != len(ids):
            raise UserError("merge: an item id occurs in more than one shard (a shard given twice?)")
        for folder, table in zip(folders, tables, strict=True):
            for image in table.column("image").to_pylist():
                link_or_copy(folder / image, target / image)
        write_parquet(target / "items.parquet", items)
        write_json(target / "evalset.json", {**common[0], "n": len(items), "shards": len(inputs)})
        merged = sum_metrics(metrics)
        write_json(target / "metrics.json", merged)
    return merged


def sum_metrics(parts: list[dict]) -> dict:
    """Numbers summed over parts; other values kept when every part agrees."""
    merged: dict = {}
    for key in dict.fromkeys(k for part in parts for k in part):
        values = [part[key] for part in parts if key in part]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            merged[key] = sum(values)
        elif all(v == values[0] for v in values):
            merged[key] = values[0]
    return merged


@contextmanager
def _staged(inputs: list[str]) -> Iterator[list[Path]]:
    with ExitStack() as stack:
        yield [stack.enter_context(local_dir(uri)) for uri in inputs]
