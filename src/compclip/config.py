"""Typed stage configs from ``params.yaml`` sections, overridden by CLI flags.

A stage config is a frozen dataclass. :func:`load_section` reads one section of a params
file into it (unknown keys are an error, so a typo never passes silently), and
:func:`override` (or :func:`override_from`, for the flags of a parsed command line named as
the fields) applies the flags a user actually gave.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from compclip.errors import UserError

T = TypeVar("T")


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """Build a (possibly nested) dataclass from a dict, checking every value against its field type.

    Unknown keys are refused with the list of valid keys; a value of the wrong type is converted
    when that is lossless (``"1e-3"`` to a float field, an int to a float, a list to a tuple) and
    refused otherwise, in one line naming the key.
    """
    where = where or cls.__name__
    if not isinstance(values, dict):
        raise UserError(f"{where}: expected a mapping of settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserError(f"{where}: unknown keys {unknown}; valid keys: {sorted(names)}")
    kwargs = {name: _convert(value, hints[name], f"{where}.{name}") for name, value in values.items()}
    return cls(**kwargs)


def _convert(value: Any, kind: Any, key: str) -> Any:
    """``value`` as an instance of the type annotation ``kind``; UserError naming ``key`` if it is not one."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        return value if isinstance(value, kind) else from_dict(kind, value, key)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, key)
            except UserError as err:
                errors.append(err)
        raise errors[0]
    if origin is typing.Literal:
        if value in args:
            return value
        raise UserError(f"{key}: expected one of {list(args)}, got {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise UserError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise UserError(f"{key}: expected {len(args)} values, got {list(value)!r}")
            items = [_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            item = args[0] if args else Any
            items = [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or kind is dict:
        if not isinstance(value, dict):
            raise UserError(f"{key}: expected a mapping, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(kind, type):
        if isinstance(value, kind):
            return value
    else:
        return value
    raise UserError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


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
