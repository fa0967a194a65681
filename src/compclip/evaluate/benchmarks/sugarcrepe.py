"""SugarCrepe (Hsieh et al. 2023): ``{id: {filename, caption, negative_caption}}``, one file per subset.

The subset is the file's stem (``add_att``, ``replace_rel``, ...); images are COCO val2017 files
named by ``filename`` under the image root, or, in a record with a ``shard`` (the world's
compositional sets, ``compclip evalsets build``), the member ``filename`` of that image shard of
the root, every sharded image read in one pass.
"""

from __future__ import annotations

from pathlib import Path

from compclip.evaluate.benchmarks.common import (
    Item,
    get_fields,
    json_files,
    read_json,
    record_mapping,
)
from compclip.evaluate.encode import image_refs
from compclip.rejects import Rejects

FIELDS = ("filename", "caption", "negative_caption")


def load(annotations: Path, image_root: Path, rejects: Rejects) -> tuple[list[Item], int]:
    """Items of every subset file at ``annotations`` (a file or folder) and the number of records read."""
    found, n_seen = [], 0
    for path in json_files(annotations):
        records = record_mapping(read_json(path), path)
        n_seen += len(records)
        for key, record in records.items():
            values = get_fields(record, FIELDS, rejects, f"{path.name}:{key}")
            if values is not None:
                found.append((f"{path.stem}/{key}", path.stem, record.get("shard"), *values))
    rows = [{"image": filename, "shard": shard} for _, _, shard, filename, _, _ in found]
    refs = image_refs(image_root, rows, rejects)
    items = [
        Item(item_id, subset, ref, caption, (negative,))
        for (item_id, subset, _, _, caption, negative), ref in zip(found, refs, strict=True)
        if ref is not None
    ]
    return items, n_seen
