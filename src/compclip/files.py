"""Reading the local files of compclip's inputs: a file that is not what it should be is one
UserError naming it (corrupt, truncated, not UTF-8, the wrong shape), never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from compclip.errors import UserError


def read_json(path: Path, required: Iterable[str] = ()) -> Any:
    """The JSON document at ``path``; with ``required``, an object that has those keys."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    return parse_json(data, str(path), required)


def parse_json(data: bytes, where: str, required: Iterable[str] = ()) -> Any:
    """:func:`read_json` of the bytes read from ``where`` (a path or URI, for the message)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise UserError(f"{where}: not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise UserError(
            f"{where}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    required = list(required)
    if required:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(value).__name__}")
        missing = [key for key in required if key not in value]
        if missing:
            raise UserError(f"{where}: missing {', '.join(missing)}; not written by compclip, or corrupt")
    return value


def read_parquet(path: Path, columns: Iterable[str] | None = None) -> pa.Table:
    """The Parquet table at ``path`` (only ``columns``, all of which it must have, when given)."""
    columns = list(columns) if columns is not None else None
    try:
        schema = pq.read_schema(path)
        missing = [c for c in columns or () if c not in schema.names]
        if missing:
            raise UserError(f"{path}: no column {', '.join(missing)} (it has {', '.join(schema.names)})")
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{path}: not a readable Parquet file ({err})") from None
