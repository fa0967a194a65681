"""Resumable, shardable generation (GenPairs, ImageNet-paste, LLaVA answers): work in chunks, one
atomic record per finished chunk.

A generator's items are cut into chunks of a fixed size; shard ``i/n`` takes chunks ``i, i+n, ...``
(so pipeline tasks fan out over chunks). A chunk's images go into ``WORK/images/`` and then its
record ``WORK/chunks/NNNNNN.json`` (its items and reject counts) is written atomically: a chunk with
a record is done, so a killed job restarted on the same work folder neither repeats nor loses an
item. ``plan.json`` holds the run's fingerprint; a work folder of another run is refused.
:func:`work_folder` says where a shard's work folder is: a local path or an s3:// prefix
(:mod:`compclip.workfolders`; a chunk's images are uploaded before its record).
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
from compclip.workfolders import WorkFolder, join

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
        help="a folder or s3:// prefix where each shard keeps its finished chunks in a subfolder of its "
        "own, for a resumed run (default: beside --out)",
    )


def add_merge_command(
    verbs: argparse._SubParsersAction, summary: str, examples: str, func: Callable[[argparse.Namespace], None]
) -> None:
    """The ``merge`` verb of a sharded stage: ``func`` joins the shards' output folders into ``--out``."""
    merge = add_command(verbs, "merge", summary, examples)
    merge.add_argument("shards", nargs="+", help="the shards' output folders (local or s3://)")
    merge.add_argument("--out", required=True, help="output folder (local or s3://)")
    merge.set_defaults(func=func)


def work_folder(work_dir: str | Path | None, out: str, stage: str, shard: Shard) -> str:
    """Where shard ``shard`` of ``stage`` works: its own subfolder of ``work_dir`` (so every shard of a
    job can be given the same volume or S3 prefix), else beside ``out`` (:func:`outputs.work_dir`)."""
    if not work_dir:
        return str(outputs.work_dir(out, stage))
    return join(work_dir, f"{stage}-{shard.index}-of-{shard.count}")


class Work:
    """A work folder (a local path or s3:// URI): its plan and the records of finished chunks.
    ``folder`` is where it is worked on locally; ``keep`` names further files it resumes with."""

    def __init__(self, uri: str | Path, fingerprint: dict, keep: tuple[str, ...] = ()) -> None:
        uri = str(uri).rstrip("/")
        self.files = WorkFolder(uri, uri.rsplit("/", 1)[-1], pull=(PLAN, CHUNKS, IMAGES, *keep))
        folder = self.folder = self.files.local
        (folder / CHUNKS).mkdir(parents=True, exist_ok=True)
        (folder / IMAGES).mkdir(exist_ok=True)
        plan = folder / PLAN
        text = json.dumps(fingerprint, sort_keys=True, default=str)
        if plan.is_file() and plan.read_text() != text:
            raise UserError(f"{uri} holds the work of another run; delete it or pass another --work-dir")
        atomic_write_bytes(plan, text.encode())
        self.files.push(PLAN)

    @property
    def images(self) -> Path:
        return self.folder / IMAGES

    def record(self, index: int) -> Path:
        return self.folder / CHUNKS / f"{index:06d}.json"

    def done(self, index: int) -> bool:
        return self.record(index).is_file()

    def finish(self, index: int, items: list[dict], rejects: Rejects) -> None:
        """Write chunk ``index``'s record (on S3: after the images it made)."""
        write_json(self.record(index), {"items": items, "rejects": rejects.as_dict()})
        self.files.push_new(IMAGES)
        self.files.push(self.record(index).relative_to(self.folder).as_posix())

    def remove(self) -> None:
        """Delete the work folder (once its output is published)."""
        self.files.remove()

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
