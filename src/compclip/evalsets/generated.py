"""Generated evaluation sets (GenPairs, ImageNet-paste): written from a generator's items, and one
set merged from the outputs of a job's shards (:mod:`compclip.chunks`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compclip.errors import UserError
from compclip.outputs import local_out
from compclip.storage import local_dir, write_json, write_parquet

log = logging.getLogger(__name__)

IMAGE_COLUMNS = ("image", "clean_image")  # the item columns that name a file of the set


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def write_evalset(
    out: str, items: list[dict], schema: pa.Schema, images: Path, header: dict, metrics: dict
) -> None:
    """Write the set at ``out``: ``images/``, ``items.parquet``, ``evalset.json``, ``metrics.json``.

    Every file an item names (``image``, and ``clean_image``: the unedited image of an edited one)
    is taken from ``images`` by its name."""
    with local_out(out) as folder:
        for item in items:
            for column in IMAGE_COLUMNS:
                if item.get(column):
                    link_or_copy(images / Path(item[column]).name, folder / item[column])
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
            for column in (c for c in IMAGE_COLUMNS if c in table.column_names):
                for image in table.column(column).drop_null().to_pylist():
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
