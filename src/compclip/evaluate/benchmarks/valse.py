"""VALSE (Parcalabescu et al. 2022).

Format: ``{id: {dataset, image_file, caption, foil, mturk: {caption, foil, other}}}``.

One file per piece (``existence``, ``plurals``, ``counting-hard``, ...), which is the subset.
As in the paper, only items where at least ``min_votes`` of the three annotators chose the caption
(``mturk.caption``) are kept; the others are counted as dropped by votes, not as rejects.
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

FIELDS = ("image_file", "caption", "foil", "mturk")


def load(
    annotations: Path, image_root: Path, rejects: Rejects, min_votes: int = 2
) -> tuple[list[Item], int, dict[str, int]]:
    """Items kept, records read, and per piece the number dropped for too few caption votes."""
    items, n_seen, dropped = [], 0, {}
    for path in json_files(annotations):
        records = record_mapping(read_json(path), path)
        n_seen += len(records)
        dropped[path.stem] = 0
        for key, record in records.items():
            where = f"{path.name}:{key}"
            values = get_fields(record, FIELDS, rejects, where)
            if values is None:
                continue
            image_file, caption, foil, mturk = values
            votes = mturk.get("caption") if isinstance(mturk, dict) else None
            if not isinstance(votes, int):
                rejects.add("no_mturk_caption", where)
                continue
            if votes < min_votes:
                dropped[path.stem] += 1
                continue
            image = ImageRef(image_path(image_root, image_file))
            group = str(record.get("dataset", ""))
            items.append(Item(f"{path.stem}/{key}", path.stem, image, caption, (foil,), group))
    return items, n_seen, dropped
