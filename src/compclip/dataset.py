"""Image-caption dataset folders: what ``pretrain``, ``train``, ``negatives`` and ``pmi`` read.

A dataset folder holds ``captions.parquet`` (``id``, ``caption``, ``image``, ``shard``; an image may
have several captions; other columns are kept for whoever reads them), ``dataset.json`` and the
images in tar shards (:mod:`compclip.shards`): ``shard`` names the shard (``shards/000003.tar``)
and ``image`` the image in it. The older folder of image files (no ``shard`` column, ``image`` a
path relative to the folder) stays readable: :func:`read_images` reads either, and ``compclip data
import OLD --out NEW`` (:mod:`compclip.dataset_import`) rewrites one as shards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from compclip import shards
from compclip.errors import UserError
from compclip.files import read_parquet
from compclip.rejects import Rejects
from compclip.storage import exists, local_copy, read_bytes, safe_relative

CAPTIONS, HEADER, IMAGES = "captions.parquet", "dataset.json", "images"
COLUMNS = ("id", "caption", "image")
SHARD = "shard"  # the column naming a row's image shard (absent: ``image`` is a file in the folder)
CLEAN_SHARD = "clean_shard"  # an edited eval set's: the image shard of its ``clean_image`` column


def read_rows(folder: str | Path, rejects: Rejects) -> list[dict[str, str]]:
    """Rows of the dataset ``folder``'s (a path or s3:// URI) ``captions.parquet`` with all three
    fields non-empty strings, and their ``shard`` when the images are sharded."""
    path = f"{str(folder).rstrip('/')}/{CAPTIONS}"
    if not exists(path):
        if not exists(str(folder)):
            raise UserError(f"no such folder: {folder}")
        raise UserError(f"{folder}: not a dataset folder (no {CAPTIONS})")
    with local_copy(path) as (local, _):
        table = read_parquet(local)
    if missing := [c for c in COLUMNS if c not in table.column_names]:
        raise UserError(f"{path}: no column {', '.join(missing)} (it has {', '.join(table.column_names)})")
    columns = [*COLUMNS, SHARD] if SHARD in table.column_names else list(COLUMNS)
    rows = []
    for row in table.select(columns).to_pylist():
        bad = [c for c in columns if not isinstance(row[c], str) or not row[c].strip()]
        if bad:
            rejects.add(f"caption row missing {bad[0]}", f"{path} id={row['id']}")
        else:
            rows.append(row)
    return rows


def image_key(row: dict[str, str]) -> str:
    """Where a row's image is, relative to its dataset: ``shards/000003.tar/NAME`` or ``images/NAME``."""
    return f"{row[SHARD]}/{row['image']}" if SHARD in row else row["image"]


def read_images(
    folder: str, rows: list[dict[str, str]], failed: dict[str, str]
) -> Iterator[tuple[str, bytes]]:
    """``(image_key, bytes)`` of each image the ``rows`` of the dataset ``folder`` (path or s3://) use,
    once: streamed shard by shard (:func:`compclip.shards.stream`), or file by file from a folder of
    images (the older format). An image that cannot be read goes to ``failed`` (key -> reason)."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        try:
            safe_relative(image_key(row), folder)
        except UserError:
            failed[image_key(row)] = "image path outside the dataset"
            continue
        wanted.setdefault(row.get(SHARD, ""), set()).add(row["image"])
    files = wanted.pop("", set())
    for shard, name, data in shards.stream(folder, wanted, failed):
        yield f"{shard}/{name}", data
    for name in sorted(files):
        try:
            yield name, read_bytes(f"{folder.rstrip('/')}/{name}")
        except UserError:
            failed[name] = "image missing"


def read_image(folder: str, row: dict[str, str]) -> bytes:
    """The image of one ``row`` (``image``, and ``shard`` when sharded) of the dataset ``folder`` (path
    or s3://): the shard's index and one range read of the image's bytes, or the file (older layout)."""
    root = folder.rstrip("/")
    if not row.get(SHARD):
        return read_bytes(f"{root}/{safe_relative(row['image'], folder)}")
    index = shards.read_index(f"{root}/{row[SHARD]}")
    if index is None:
        raise UserError(f"{root}/{row[SHARD]}: shard without index (unfinished)")
    return shards.read_image(root, row[SHARD], row["image"], index)
