"""What every compositional benchmark loader produces, and the helpers they share.

A benchmark is a list of :class:`Item`: one image (optionally a crop) with one positive caption
and one or more negatives. An item is correct when the positive caption scores strictly higher
than every negative (image-to-text). Loaders count records with missing fields in
:class:`~compclip.rejects.Rejects` as ``no_<field>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compclip.errors import UserError
from compclip.evaluate.encode import ImageRef
from compclip.rejects import Rejects


@dataclass(frozen=True)
class Item:
    """One benchmark example; ``group`` is a finer label (VALSE source, ARO relation) for breakdowns."""

    id: str
    subset: str
    image: ImageRef
    positive: str
    negatives: tuple[str, ...]
    group: str = ""


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"no such benchmark file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from err


def json_files(path: Path) -> list[Path]:
    """``path`` itself when a file, else the ``*.json`` files in the folder, sorted."""
    files = [path] if path.is_file() else sorted(path.glob("*.json")) if path.is_dir() else []
    if not files:
        raise UserError(f"no benchmark JSON files at {path}")
    return files


def record_mapping(data: Any, path: Path) -> dict[str, Any]:
    """An ``{id: record}`` file's records; anything else is a user error naming the file."""
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object of id -> record, got {type(data).__name__}")
    return data


def get_fields(record: Any, names: tuple[str, ...], rejects: Rejects, where: str) -> tuple | None:
    """The values of ``names`` in ``record``; None (counted as ``no_<field>``) when one is absent or empty."""
    if not isinstance(record, dict):
        rejects.add("not_a_record", where)
        return None
    for name in names:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            rejects.add(f"no_{name}", where)
            return None
    return tuple(record[name] for name in names)


def image_path(root: Path, name: str) -> str:
    return os.path.join(root, name)
