"""Resumable, shardable generation (GenPairs, ImageNet-paste, LLaVA answers): work in chunks, one
atomic record per finished chunk.

A generator's items are cut into chunks of a fixed size; shard ``i/n`` takes chunks ``i, i+n, ...``
(so pipeline tasks fan out over chunks). A chunk's images go into ``WORK/images/`` and then its
record ``WORK/chunks/NNNNNN.json`` (its items and reject counts) is written atomically: a chunk with
a record is done, so a killed job restarted on the same work folder neither repeats nor loses an
item. ``plan.json`` holds the run's fingerprint; a work folder of another run is refused.
:func:`work_folder` says where a shard's work folder is.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from compclip import outputs
from compclip.cli import add_command
from compclip.errors import UserError
from compclip.files import read_json
from compclip.rejects import Rejects
from compclip.storage import atomic_write_bytes, write_json

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


def add_shard_flags(parser: argparse.ArgumentParser, unit: str) -> None:
    """``--shard i/n`` and ``--work-dir`` for a generator working in chunks of ``unit``s."""
    parser.add_argument(
        "--shard", default="0/1", help=f"i/n: this task's share of the {unit} chunks (default: %(default)s)"
    )
    parser.add_argument(
        "--work-dir",
        help="a folder (e.g. a persistent volume) where each shard keeps its finished chunks in a subfolder "
        "of its own, for a resumed run (default: beside --out)",
    )


def add_merge_command(
    verbs: argparse._SubParsersAction, summary: str, examples: str, func: Callable[[argparse.Namespace], None]
) -> None:
    """The ``merge`` verb of a sharded stage: ``func`` joins the shards' output folders into ``--out``."""
    merge = add_command(verbs, "merge", summary, examples)
    merge.add_argument("shards", nargs="+", help="the shards' output folders (local or s3://)")
    merge.add_argument("--out", required=True, help="output folder (local or s3://)")
    merge.set_defaults(func=func)


def work_folder(work_dir: str | Path | None, out: str, stage: str, shard: Shard) -> Path:
    """Where shard ``shard`` of ``stage`` works: its own subfolder of ``work_dir`` (so every shard of a
    job can be given the same persistent volume), else beside ``out`` (:func:`outputs.work_dir`)."""
    if not work_dir:
        return outputs.work_dir(out, stage)
    return Path(work_dir) / f"{stage}-{shard.index}-of-{shard.count}"


class Work:
    """A work folder: its plan and the records of finished chunks."""

    def __init__(self, folder: Path, fingerprint: dict) -> None:
        self.folder = folder
        outputs.claim_work(str(folder), folder.name)
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

    def remove(self) -> None:
        """Delete the work folder (once its output is published)."""
        outputs.release_work(str(self.folder))

    def read(self, indices: list[int]) -> tuple[list[dict], Rejects]:
        items, rejects = [], Rejects()
        for index in indices:
            data = read_json(self.record(index), required=("items", "rejects"))
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
