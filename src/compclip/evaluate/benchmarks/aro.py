"""ARO VG-Relation and VG-Attribution (Yuksekgonul et al. 2023): a JSON list of records
``{image_path, bbox_x, bbox_y, bbox_w, bbox_h, true_caption, false_caption, relation_name | attributes}``.

The image is cropped to the box, as in ARO. The group of an item is its relation name
(VG-Relation) or its attribute pair joined by ``-`` (VG-Attribution), for ARO's macro accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path

from compclip.errors import UserError
from compclip.evaluate.benchmarks.common import Item, get_fields, image_path, read_json
from compclip.evaluate.encode import ImageRef
from compclip.rejects import Rejects

BOX = ("bbox_x", "bbox_y", "bbox_w", "bbox_h")
SUBSETS = {"vg_relation": "relation_name", "vg_attribution": "attributes"}


def load(annotations: Path, image_root: Path, rejects: Rejects, subset: str) -> tuple[list[Item], int]:
    """Items of one ARO VG file; ``subset`` is ``vg_relation`` or ``vg_attribution``."""
    group_field = SUBSETS[subset]
    records = read_json(annotations)
    if not isinstance(records, list):
        raise UserError(f"{annotations}: expected a JSON list of ARO records, got {type(records).__name__}")
    fields = ("image_path", *BOX, "true_caption", "false_caption", group_field)
    items = []
    for index, record in enumerate(records):
        where = f"{annotations.name}:{index}"
        values = get_fields(record, fields, rejects, where)
        if values is None:
            continue
        path, *box, true_caption, false_caption, group = values
        if (
            not all(isinstance(v, int | float) and math.isfinite(v) for v in box)
            or box[2] <= 0
            or box[3] <= 0
        ):
            rejects.add("bad_bbox", where)
            continue
        group = "-".join(map(str, group)) if isinstance(group, list) else str(group)
        image = ImageRef(image_path(image_root, path), tuple(float(v) for v in box))
        items.append(Item(f"{subset}/{index}", subset, image, true_caption, (false_caption,), group))
    return items, len(records)
