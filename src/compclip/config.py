"""Typed stage configs from ``params.yaml`` sections, overridden by CLI flags.

A stage config is a frozen dataclass. :func:`load_section` reads one section of a params
file into it (unknown keys are an error, so a typo never passes silently), and
:func:`override` (or :func:`override_from`, for the flags of a parsed command line named as
the fields) applies the flags a user actually gave.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from compclip.errors import UserError

T = TypeVar("T")


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """Build a (possibly nested) dataclass from a dict, rejecting unknown keys."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UserError(f"{where or cls.__name__}: unknown keys {unknown}; known: {sorted(fields)}")
    kwargs = {}
    hints = _hints(cls)
    for name, value in values.items():
        kind = fields[name].type
        nested = _dataclass_type(cls, name)
        if hints.get(name) in (int, int | None) and isinstance(value, float) and value.is_integer():
            value = int(value)  # a JSON/protobuf number (Kubeflow passes every number as a double)
        if nested is not None and isinstance(value, dict):
            value = from_dict(nested, value, f"{where}.{name}" if where else name)
        elif isinstance(value, list) and "tuple" in str(kind):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def _dataclass_type(cls: type, name: str) -> type | None:
    import typing

    hint = typing.get_type_hints(cls).get(name)
    return hint if dataclasses.is_dataclass(hint) else None


def load_section(cls: type[T], path: str | Path | None, section: str) -> T:
    """The ``section`` of a params YAML file as ``cls``; defaults when ``path`` is None."""
    if path is None:
        return cls()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such params file: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    values = data
    for key in section.split("."):
        values = values.get(key, {}) if isinstance(values, dict) else {}
    return from_dict(cls, values, f"{path}:{section}")


def override(config: T, **flags: Any) -> T:
    """Replace the fields whose flag value is not None."""
    given = {k: v for k, v in flags.items() if v is not None}
    return dataclasses.replace(config, **given) if given else config


def override_from(config: T, args: argparse.Namespace, *names: str, **flags: Any) -> T:
    """:func:`override` with the flags ``names`` of ``args`` (each named as its field), then ``flags``."""
    return override(config, **{name: getattr(args, name) for name in names}, **flags)


def as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
