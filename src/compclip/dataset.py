"""Image-caption dataset folders, and bringing one in from outside the world (``compclip data import``).

A dataset folder is what ``pretrain``, ``train`` and ``negatives`` read: ``captions.parquet`` (``id``,
``caption``, ``image``: a path relative to the folder; an image may have several captions) and the
images. ``import_dataset(source, out, config)`` reads such a folder, or COCO captions (a
``captions_*.json`` with ``annotations`` of ``image_id`` and ``caption`` and ``images`` of ``id`` and
``file_name``, beside an image root), drops the rows with an empty caption or a missing image
(counted; more than ``max_reject_share`` is an error naming the first), and writes the kept rows
and only their images to ``out`` (local or s3://) with a ``dataset.json`` naming the source.
Images are not decoded here: training counts an undecodable one as it reads it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow as pa

from compclip import shards
from compclip.config import Checked, Share
from compclip.errors import UserError
from compclip.files import read_json, read_parquet
from compclip.outputs import local_out
from compclip.rejects import Rejects
from compclip.storage import (
    exists,
    filesystem,
    local_copy,
    local_dir,
    read_bytes,
    s3_access,
    sha256_file,
    write_json,
    write_parquet,
)

log = logging.getLogger(__name__)

CAPTIONS, HEADER, IMAGES = "captions.parquet", "dataset.json", "images"
COLUMNS = ("id", "caption", "image")
SHARD = "shard"  # the column naming a row's image shard (absent: ``image`` is a file in the folder)
FORMATS = ("auto", "folder", "coco")


@dataclass(frozen=True)
class ImportConfig(Checked):
    format: str = "auto"  # folder (captions.parquet), coco (captions JSON + --images), auto: by the source
    max_reject_share: Share = 0.01


def read_rows(folder: str | Path, rejects: Rejects) -> list[dict[str, str]]:
    """Rows of the dataset ``folder``'s (a path or s3:// URI) ``captions.parquet`` with all three
    fields non-empty strings, and their ``shard`` when the images are sharded."""
    path = f"{str(folder).rstrip('/')}/{CAPTIONS}"
    if not exists(path):
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
        wanted.setdefault(row.get(SHARD, ""), set()).add(row["image"])
    files = wanted.pop("", set())
    for shard, name, data in shards.stream(folder, wanted, failed):
        yield f"{shard}/{name}", data
    for name in sorted(files):
        try:
            yield name, read_bytes(f"{folder.rstrip('/')}/{name}")
        except UserError:
            failed[name] = "image missing"


def coco_rows(doc: dict, rejects: Rejects) -> list[dict[str, str]]:
    """One row per COCO caption annotation: ``id`` the image id, ``image`` its ``file_name``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise UserError("not COCO captions: need a JSON object with an `annotations` list")
    files = {
        str(im["id"]): im["file_name"] for im in doc.get("images", []) if "id" in im and "file_name" in im
    }
    rows = []
    for ann in doc["annotations"]:
        image_id, caption = str(ann.get("image_id", "")), ann.get("caption")
        if not isinstance(caption, str) or not caption.strip():
            rejects.add("caption row missing caption", f"image_id={image_id}")
        elif image_id not in files:
            rejects.add("image id not in `images`", f"image_id={image_id}")
        else:
            rows.append({"id": image_id, "caption": caption.strip(), "image": files[image_id]})
    return rows


def source_format(source: str, config: ImportConfig) -> str:
    if config.format not in FORMATS:
        raise UserError(f"format must be one of {FORMATS}, got {config.format!r}")
    if config.format != "auto":
        return config.format
    return "coco" if PurePosixPath(source).suffix == ".json" else "folder"


def import_dataset(
    source: str, out: str, images: str | None = None, config: ImportConfig = ImportConfig()
) -> dict:
    """Check ``source`` (a dataset folder, or COCO captions with the image root ``images``) and write
    the usable rows and their images to ``out``; returns the counts."""
    fmt, rejects = source_format(source, config), Rejects()
    if fmt == "coco":
        if not images:
            raise UserError(f"{source}: COCO captions need their image root (--images)")
        with local_copy(source) as (path, _):
            rows = coco_rows(read_json(path), rejects)
        root, prefix = images, f"{IMAGES}/"
    else:
        with local_dir(source, include=lambda rel: rel == CAPTIONS) as folder:
            rows = read_rows(folder, rejects)
        root, prefix = source, ""
    n_rows = len(rows) + rejects.total
    present = _files_below(root)
    for row in rows:
        if row["image"] not in present:
            rejects.add("image missing", f"{root}/{row['image']}")
    rows = [r for r in rows if r["image"] in present]
    rejects.check(n_rows, config.max_reject_share, source)
    needed = {r["image"] for r in rows}
    with local_dir(root, include=needed.__contains__) as folder, local_out(out) as target:
        for name in sorted(needed):
            (target / prefix / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, target / prefix / name)
        table = pa.table({c: pa.array([r[c] if c != "image" else prefix + r[c] for r in rows], pa.string())
                          for c in COLUMNS})  # fmt: skip
        write_parquet(target / CAPTIONS, table)
        counts = {"n": len(rows), "images": len(needed), "rejected": rejects.total,
                  **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
        digest = sha256_file(str(target / CAPTIONS))
        header = {"kind": "image-captions", "source": source, "format": fmt, "captions_sha256": digest}
        write_json(target / HEADER, header | counts)
    log.info("imported %d captions of %d images from %s into %s (%d rejected)", len(rows), len(needed),
             source, out, rejects.total)  # fmt: skip
    return counts


def _files_below(root: str) -> set[str]:
    """Every file below the folder ``root``, by its path relative to it (one listing, also on S3)."""
    fs, path = filesystem(root)
    with s3_access(root):
        if not fs.isdir(path):
            raise UserError(f"no such folder: {root}")
        base = path.rstrip("/") + "/"
        return {f[len(base) :] for f in fs.find(path)}
