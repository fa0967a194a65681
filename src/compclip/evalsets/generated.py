"""Generated evaluation sets (GenPairs, ImageNet-paste): written from a generator's items, and one
set merged from the outputs of a job's shards (:mod:`compclip.chunks`). A set keeps its images in
image shards (:mod:`compclip.shards`, as the world's zero-shot sets do); a set in the older layout
(``image`` a file of the folder) still merges and evaluates."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow as pa

from compclip.dataset import CLEAN_SHARD, SHARD
from compclip.errors import UserError
from compclip.files import read_json, read_parquet
from compclip.metrics import sum_metrics
from compclip.outputs import local_out
from compclip.shards import SHARDS, ShardWriter, index_name
from compclip.storage import local_dir, safe_relative, write_json, write_parquet

log = logging.getLogger(__name__)

# the item columns that name an image of the set (``clean_image``: the unedited image of an edited
# one), each with the column naming its image shard
IMAGE_COLUMNS = {"image": SHARD, "clean_image": CLEAN_SHARD}


def link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def shard_fields(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the shard column of each of its image columns."""
    for column, shard in IMAGE_COLUMNS.items():
        if column in schema.names and shard not in schema.names:
            schema = schema.insert(schema.get_field_index(column) + 1, pa.field(shard, pa.string()))
    return schema


def write_evalset(
    out: str, items: list[dict], schema: pa.Schema, images: Path, header: dict, metrics: dict
) -> None:
    """Write the set at ``out``: its images in shards (:mod:`compclip.shards`), ``items.parquet``,
    ``evalset.json``, ``metrics.json``.

    Every image an item names (``image``, and ``clean_image``) is taken from the folder ``images``
    by its file name, and packed in item order: the item's column then holds that name and its
    shard column (``shard``, ``clean_shard``) the shard."""
    rows = []
    with local_out(out) as folder:
        with ShardWriter(folder) as writer:
            for item in items:
                row = dict(item)
                for column, shard in IMAGE_COLUMNS.items():
                    if item.get(column):
                        name = Path(item[column]).name
                        row[column], row[shard] = name, writer.add(name, (images / name).read_bytes())
                rows.append(row)
        write_parquet(folder / "items.parquet", pa.Table.from_pylist(rows, schema=shard_fields(schema)))
        write_json(folder / "evalset.json", {"kind": "zeroshot", "n": len(items), **header})
        write_json(folder / "metrics.json", metrics)
    log.info("wrote %d items to %s", len(items), out)


def merge_evalsets(inputs: list[str], out: str) -> dict:
    """One evaluation set from the outputs of a job's shards; returns the summed metrics.

    Every shard must come from the same run (same header but for ``n`` and ``shard``); ids must
    not repeat. Numeric metrics are summed, others must agree. Each input's image shards are copied
    whole, renumbered after the previous inputs' (a set in the older layout: its image files).
    """
    if not inputs:
        raise UserError("merge: no shard folders given")
    tables, headers, metrics = [], [], []
    with _staged(inputs) as folders, local_out(out) as target:
        for uri, folder in zip(inputs, folders, strict=True):
            if not (folder / "evalset.json").is_file():
                raise UserError(f"{uri}: not an evaluation set (no evalset.json)")
            headers.append(read_json(folder / "evalset.json", required=("kind",)))
            metrics.append(read_json(folder / "metrics.json"))
            tables.append(read_parquet(folder / "items.parquet"))
        common = [{k: v for k, v in h.items() if k not in ("n", "shard")} for h in headers]
        if any(c != common[0] for c in common):
            raise UserError(f"merge: the shards come from different runs ({inputs[0]} vs the others)")
        copied, taken = [], 0
        for folder, table in zip(folders, tables, strict=True):
            table, n_shards = _copy_images(folder, table, target, taken)
            copied.append(table)
            taken += n_shards
        items = pa.concat_tables(copied, promote_options="default")
        ids = items.column("id").to_pylist()
        if len(set(ids)) != len(ids):
            raise UserError("merge: an item id occurs in more than one shard (a shard given twice?)")
        write_parquet(target / "items.parquet", items)
        write_json(target / "evalset.json", {**common[0], "n": len(items), "shards": len(inputs)})
        merged = sum_metrics(metrics)
        write_json(target / "metrics.json", merged)
    return merged


def _copy_images(folder: Path, table: pa.Table, target: Path, first: int) -> tuple[pa.Table, int]:
    """Copy the images ``table`` names from ``folder`` into ``target``: its image shards (tar and
    index; one missing is left out, its images are then rejects of the evaluation) numbered from
    ``first``, the shard columns renamed to match; image files as they are. Returns the table and
    the number of shards it took."""
    renamed: dict[str, str] = {}
    for column, shard in IMAGE_COLUMNS.items():
        if column not in table.column_names:
            continue
        if shard not in table.column_names:
            for image in table.column(column).drop_null().to_pylist():
                link_or_copy(folder / image, target / image)
            continue
        for name in sorted(set(table.column(shard).drop_null().to_pylist()) - renamed.keys()):
            renamed[name] = f"{SHARDS}/{first + len(renamed):06d}.tar"
            for source, copy in ((name, renamed[name]), (index_name(name), index_name(renamed[name]))):
                if (folder / safe_relative(source, str(folder))).is_file():
                    link_or_copy(folder / source, target / copy)
        column_index = table.column_names.index(shard)
        values = [renamed.get(v) if v else v for v in table.column(shard).to_pylist()]
        table = table.set_column(column_index, shard, pa.array(values, pa.string()))
    return table, len(renamed)


@contextmanager
def _staged(inputs: list[str]) -> Iterator[list[Path]]:
    with ExitStack() as stack:
        yield [stack.enter_context(local_dir(uri)) for uri in inputs]
