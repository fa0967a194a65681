"""SugarCrepe (Hsieh et al. 2023): ``{id: {filename, caption, negative_caption}}``, one file per subset.

The subset is the file's stem (``add_att``, ``replace_rel``, ...); images are COCO val2017 files
named by ``filename`` under the image root.
"""

from __future__ import annotations

from pathlib import Path

from compclip.evaluate.benchmarks.common import (
    Item,
    get_fields,
    image_path,
    json_files,
    read_json,
    record_mapping,
)
from compclip.evaluate.encode import ImageRef
from compclip.rejects import Rejects

FIELDS = ("filename", "caption", "negative_caption")


def load(annotations: Path, image_root: Path, rejects: Rejects) -> tuple[list[Item], int]:
    """Items of every subset file at ``annotations`` (a file or folder) and the number of records read."""
    items, n_seen = [], 0
    for path in json_files(annotations):
        records = record_mapping(read_json(path), path)
        n_seen += len(records)
        for key, record in records.items():
            values = get_fields(record, FIELDS, rejects, f"{path.name}:{key}")
            if values is None:
                continue
            filename, caption, negative = values
            image = ImageRef(image_path(image_root, filename))
            items.append(Item(f"{path.stem}/{key}", path.stem, image, caption, (negative,)))
    return items, n_seen
