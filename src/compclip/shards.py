"""Image shards: a dataset's images in tar files of a fixed number of images, each with an index.

A shard ``shards/NNNNNN.tar`` is a plain (WebDataset-style) tar of image files in write order,
written deterministically (mtime 0, owner 0, mode 0644), so the same images give the same bytes.
Its index ``shards/NNNNNN.json`` (``format``, ``members``: name -> ``[offset, size]`` of the data)
is written after the tar is complete: a shard without an index was never finished and is not read.
Why tar and not parquet: docs/datasets.md.

Reading streams a shard in order (local file or s3://, through the output's pointer, never a whole
download first; the index says where each image is, so no tar header is parsed on the way) or
fetches one image by its index (a range read). Bad input never stops a reader: a missing index, a
truncated shard or an image the index does not hold is reported per image (the caller counts it
as a reject of each row that needs it) with one log line naming the shard and the first such
sample.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from compclip.errors import UserError
from compclip.storage import open_uri, read_bytes, read_range, write_json

log = logging.getLogger(__name__)

SHARDS = "shards"
INDEX_FORMAT = "compclip-shard-index/1"
DEFAULT_SHARD_SIZE = 2000  # images a shard: ~1.5 MB of world PNGs, a few hundred MB of real photos


def index_name(shard: str) -> str:
    """``shards/000003.tar`` -> ``shards/000003.json``."""
    return shard.removesuffix(".tar") + ".json"


@dataclass
class ShardWriter:
    """Writes images into ``folder/shards/NNNNNN.tar`` (``shard_size`` a shard) with their indexes.

    :meth:`add` returns the shard an image went to (relative to ``folder``); :meth:`close` (or the
    ``with`` block's end) finishes the last shard. Names must be unique within a shard.
    """

    folder: Path
    shard_size: int = DEFAULT_SHARD_SIZE
    shards: list[str] = field(default_factory=list)
    _tar: tarfile.TarFile | None = None
    _members: dict[str, list[int]] = field(default_factory=dict)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, data: bytes) -> str:
        if self.shard_size < 1:
            raise UserError(f"shard size must be at least 1, got {self.shard_size}")
        if self._tar is None or len(self._members) >= self.shard_size:
            self._finish()
            shard = f"{SHARDS}/{len(self.shards):06d}.tar"
            (self.folder / SHARDS).mkdir(parents=True, exist_ok=True)
            self._tar = tarfile.open(self.folder / shard, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
            self.shards.append(shard)
        if name in self._members:
            raise UserError(f"{self.shards[-1]}: the image name {name!r} is given twice")
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        self._tar.addfile(info, io.BytesIO(data))
        padded = -(-len(data) // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        self._members[name] = [self._tar.offset - padded, len(data)]
        return self.shards[-1]

    def close(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._tar is None:
            return
        self._tar.close()
        index = {"format": INDEX_FORMAT, "members": self._members}
        write_json(self.folder / index_name(self.shards[-1]), index, sort_keys=False)
        self._tar, self._members = None, {}


def read_index(uri: str) -> dict[str, tuple[int, int]] | None:
    """The index (name -> offset, size) of the shard ``uri``; None when it has none (unfinished)."""
    try:
        data = read_bytes(index_name(uri))
    except UserError:
        return None
    try:
        index = json.loads(data)
        ok = index.get("format") == INDEX_FORMAT and isinstance(index.get("members"), dict)
        members = {str(k): (int(v[0]), int(v[1])) for k, v in index["members"].items()} if ok else None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        members = None
    if members is None:
        raise UserError(f"{index_name(uri)}: not a shard index of format {INDEX_FORMAT}")
    return members


def _fail(failed: dict[str, str], reason: str, shard: str, names: Iterable[str]) -> None:
    names = sorted(names)
    if names:
        log.warning("%s: %s (%d images, first %s)", shard, reason, len(names), names[0])
    failed.update({f"{shard}/{name}": reason for name in names})


def stream(
    root: str, wanted: dict[str, set[str]], failed: dict[str, str]
) -> Iterator[tuple[str, str, bytes]]:
    """``(shard, name, bytes)`` of the ``wanted`` images (shard relative to the dataset ``root`` ->
    image names), shard by shard in sorted order and in each shard in its write order: one forward
    pass over each tar, cut by its index (on S3, sequential reads of the file's read-ahead blocks).
    Each image that cannot be read goes to ``failed`` (``SHARD/NAME`` -> reason), with one log line
    per shard (see the module docstring)."""
    for shard in sorted(wanted):
        uri = f"{root.rstrip('/')}/{shard}"
        names = wanted[shard]
        index = read_index(uri)
        if index is None:
            _fail(failed, "shard without index (unfinished)", shard, names)
            continue
        _fail(failed, "image not in its shard", shard, names - index.keys())
        order, done = sorted(names & index.keys(), key=lambda name: index[name][0]), 0
        try:
            with open_uri(uri) as handle:
                for name in order:
                    offset, size = index[name]
                    handle.seek(offset)
                    data = handle.read(size)
                    if len(data) != size:
                        raise EOFError(f"{name} is cut short")
                    yield shard, name, data
                    done += 1
        except (EOFError, OSError, UserError) as err:
            log.warning("%s: unreadable after %d images (%s)", shard, done, err)
        _fail(failed, "shard truncated", shard, order[done:])


def read_image(root: str, shard: str, name: str, index: dict[str, tuple[int, int]]) -> bytes:
    """One image by its ``index`` entry: a range read of its bytes (local or s3://)."""
    if name not in index:
        raise UserError(f"{shard}: no image {name!r} in its index")
    offset, size = index[name]
    data = read_range(f"{root.rstrip('/')}/{shard}", offset, size)
    if len(data) != size:
        raise UserError(f"{shard}: {name} is cut short ({len(data)} of {size} bytes): the shard is truncated")
    return data
