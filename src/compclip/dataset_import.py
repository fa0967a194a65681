"""``compclip data import``: an image-caption set from outside the world, written as a sharded
dataset folder (:mod:`compclip.dataset`).

Sources (``format``, or ``auto``: by what the source holds):

- ``folder``: a dataset folder, sharded or the older folder of image files (so import is also the
  converter from the old format);
- ``coco``: COCO captions (a ``captions_*.json`` with ``annotations`` of ``image_id`` and ``caption``
  and ``images`` of ``id`` and ``file_name``) beside an image root (``images``);
- ``webdataset``: img2dataset's (and WebDataset's) tar shards: ``KEY.jpg|png|webp`` and ``KEY.txt``;
- ``parquet``: img2dataset's parquet shards: ``key``, ``caption`` and the image bytes (``jpg``,
  ``png`` or ``webp``).

Images are streamed from local paths or s3:// and written in order, numbered, to shards of
``shard_size``; ``captions.parquet`` keeps each caption's ``id`` and the image's ``source`` key.
A sample without an image or caption, a missing image, a truncated shard: one line naming the shard
and sample, counted by reason; more than ``max_reject_share`` of the captions is an error naming
the first, and nothing is written. Images are not decoded here: training counts an undecodable one.
"""

from __future__ import annotations

import logging
import tarfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from compclip.config import Checked, PositiveInt, Share
from compclip.dataset import CAPTIONS, HEADER, SHARD, image_key, read_images, read_rows
from compclip.errors import UserError
from compclip.files import read_json
from compclip.outputs import local_out
from compclip.rejects import Rejects
from compclip.shards import DEFAULT_SHARD_SIZE, ShardWriter
from compclip.storage import expand, local_copy, open_uri, sha256_file, write_json, write_parquet

log = logging.getLogger(__name__)

FORMATS = ("auto", "folder", "coco", "webdataset", "parquet")
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")

# One sample: its source key (shard/key or path, with the image's extension), its captions as
# (id, caption) and the image's bytes.
Sample = tuple[str, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class ImportConfig(Checked):
    format: str = "auto"  # see FORMATS and the module docstring
    max_reject_share: Share = 0.01
    shard_size: PositiveInt = DEFAULT_SHARD_SIZE  # images a shard


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
    """The configured format, or (``auto``) the one the source's files show."""
    if config.format not in FORMATS:
        raise UserError(f"format must be one of {FORMATS}, got {config.format!r}")
    if config.format != "auto":
        return config.format
    if PurePosixPath(source).suffix == ".json":
        return "coco"
    names = [PurePosixPath(f).name for f in expand([source])]
    if CAPTIONS in names:
        return "folder"
    for suffix, fmt in ((".tar", "webdataset"), (".parquet", "parquet")):
        if any(n.endswith(suffix) for n in names):
            return fmt
    raise UserError(f"{source}: neither a dataset folder, COCO captions, nor tar or parquet shards")


def rows_samples(root: str, rows: list[dict[str, str]], rejects: Rejects) -> Iterator[Sample]:
    """The samples of caption ``rows`` whose images are under ``root`` (a dataset folder or an image
    root): each image once, with all its captions; an unreadable one is a reject of each caption."""
    by_image: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_image[image_key(row)].append((row["id"], row["caption"]))
    failed: dict[str, str] = {}
    for key, data in read_images(root, rows, failed):
        yield key, by_image[key], data
    for key, reason in sorted(failed.items()):
        rejects.add(reason, f"{root}/{key}", len(by_image[key]))


def webdataset_samples(source: str, rejects: Rejects) -> Iterator[Sample]:
    """The samples of every tar shard under ``source``, in order: a sample is the members that share
    a key (the name up to its first dot), its image the first of ``IMAGE_EXTENSIONS``, its caption
    ``txt``. A truncated shard is read up to the cut (one reject, naming the last key read)."""
    for shard in expand([source], keep=lambda f: f.endswith(".tar")):
        key, parts = None, {}
        try:
            with open_uri(shard) as handle, tarfile.open(fileobj=handle, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    name = member.name
                    slash = name.rfind("/") + 1
                    this, _, ext = name[slash:].partition(".")
                    if name[:slash] + this != key:
                        yield from _sample(shard, key, parts, rejects)
                        key, parts = name[:slash] + this, {}
                    parts[ext.lower()] = tar.extractfile(member).read()
        except (tarfile.TarError, EOFError, OSError) as err:
            log.warning("%s: truncated after %s (%s)", shard, key, err)
            rejects.add("shard truncated", f"{shard}: after {key}")
            continue
        yield from _sample(shard, key, parts, rejects)


def _sample(shard: str, key: str | None, parts: dict[str, bytes], rejects: Rejects) -> Iterator[Sample]:
    if key is None:
        return
    image = next((ext for ext in IMAGE_EXTENSIONS if parts.get(ext)), None)
    caption = parts.get("txt", b"").decode("utf-8", "replace").strip()
    if image is None:
        rejects.add("sample without image", f"{shard}: {key}")
    elif not caption:
        rejects.add("sample without caption", f"{shard}: {key}")
    else:
        yield f"{shard}/{key}.{image}", [(PurePosixPath(key).name, caption)], parts[image]


def parquet_samples(source: str, rejects: Rejects) -> Iterator[Sample]:
    """The samples of every parquet shard under ``source`` (img2dataset's ``parquet`` output): rows
    of ``key``, ``caption`` and the image bytes; a failed download (no bytes) is a reject."""
    for shard in expand([source], keep=lambda f: f.endswith(".parquet")):
        try:
            with open_uri(shard) as handle:
                parquet = pq.ParquetFile(handle)
                names = parquet.schema_arrow.names
                image = next((c for c in IMAGE_EXTENSIONS if c in names), None)
                if image is None or "caption" not in names:
                    raise UserError(f"no image column ({'/'.join(IMAGE_EXTENSIONS)}) or no caption column")
                columns = [c for c in ("key", "caption", image) if c in names]
                row = 0
                for batch in parquet.iter_batches(columns=columns):
                    for sample in batch.to_pylist():
                        key = str(sample.get("key") or row)
                        row += 1
                        caption = (sample["caption"] or "").strip()
                        if not sample[image]:
                            rejects.add("sample without image", f"{shard}: {key}")
                        elif not caption:
                            rejects.add("sample without caption", f"{shard}: {key}")
                        else:
                            yield f"{shard}/{key}.{image}", [(key, caption)], sample[image]
        except (pa.ArrowException, OSError, UserError) as err:
            log.warning("%s: unreadable (%s)", shard, err)
            rejects.add("shard unreadable", f"{shard}: {err}")


def import_dataset(
    source: str, out: str, images: str | None = None, config: ImportConfig = ImportConfig()
) -> dict:
    """Check ``source`` (see the module docstring; COCO captions need their image root ``images``) and
    write its usable samples to ``out`` as a sharded dataset folder; returns the counts."""
    fmt, rejects = source_format(source, config), Rejects()
    if fmt == "coco":
        if not images:
            raise UserError(f"{source}: COCO captions need their image root (--images)")
        with local_copy(source) as (path, _):
            rows = coco_rows(read_json(path), rejects)
        samples = rows_samples(images, rows, rejects)
    elif fmt == "folder":
        samples = rows_samples(source, read_rows(source, rejects), rejects)
    else:
        samples = (webdataset_samples if fmt == "webdataset" else parquet_samples)(source, rejects)
    with local_out(out) as target:
        columns: dict[str, list[str]] = {c: [] for c in ("id", "caption", "image", SHARD, "source")}
        with ShardWriter(target, config.shard_size) as writer:
            for number, (key, captions, data) in enumerate(samples):
                name = f"{number:07d}{PurePosixPath(key).suffix.lower()}"
                shard = writer.add(name, data)
                for image_id, caption in captions:
                    for column, value in zip(columns, (image_id, caption, name, shard, key), strict=True):
                        columns[column].append(value)
        rejects.check(len(columns["id"]) + rejects.total, config.max_reject_share, source)
        write_parquet(target / CAPTIONS, pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()}))
        counts = {"n": len(columns["id"]), "images": len(set(columns["source"])), "rejected": rejects.total,
                  **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
        header = {"kind": "image-captions", "source": source, "format": fmt,
                  "captions_sha256": sha256_file(str(target / CAPTIONS))}  # fmt: skip
        write_json(target / HEADER, header | counts)
    log.info("imported %d captions of %d images from %s into %s (%d rejected)", counts["n"],
             counts["images"], source, out, rejects.total)  # fmt: skip
    return counts
