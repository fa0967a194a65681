"""Typed stage configs from ``params.yaml`` sections, overridden by CLI flags.

A stage config is a frozen dataclass. :func:`load_section` reads one section of a params
file into it (unknown keys are an error, so a typo never passes silently), and
:func:`override` (or :func:`override_from`, for the flags of a parsed command line named as
the fields) applies the flags a user actually gave. A flag's help shows its field's default
through :func:`add_flag`, read from the dataclass, never written by hand.

Every float setting must be finite, and a field's allowed range is part of its type:
``batch_size: PositiveInt``, ``max_reject_share: Share``, or ``Annotated[float, Range(...)]``.
The same check runs on every door: a params file, a flag, and a stage config built in code
(a :class:`Checked` dataclass checks its fields when it is constructed).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

from compclip.errors import UserError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of a number setting, ``low`` to ``high`` (None: unbounded), each end
    included unless ``open_low`` / ``open_high``; used as ``Annotated[int, Range(1)]``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {self.high:g}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


PositiveInt = Annotated[int, Range(1)]  # sizes and counts of at least one
Count = Annotated[int, Range(0)]  # counts where 0 has a meaning (none, off)
Share = Annotated[float, Range(0, 1)]  # a share or probability, 0 to 1
PositiveFloat = Annotated[float, Range(0, open_low=True)]
NonNegativeFloat = Annotated[float, Range(0)]


class Checked:
    """Base of a stage config dataclass: its fields are checked against their types and ranges
    whenever it is constructed (from params, by :func:`override`, or in code)."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            _convert(getattr(self, f.name), hints[f.name], f.name)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """Build a (possibly nested) dataclass from a dict, checking every value against its field type.

    Unknown keys are refused with the list of valid keys (a key the class lists in its ``MOVED``,
    old name -> new dotted name, with its new name); a value of the wrong type is converted
    when that is lossless (``"1e-3"`` to a float field, an int to a float, a list to a tuple) and
    refused otherwise, in one line naming the key.
    """
    where = where or cls.__name__
    if not isinstance(values, dict):
        raise UserError(f"{where}: expected a mapping of settings, got {values!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    moved = getattr(cls, "MOVED", {})
    old = [key for key in unknown if key in moved]
    if old:
        raise UserError(f"{where}.{old[0]} moved: write it as {where}.{moved[old[0]]}")
    if unknown:
        raise UserError(f"{where}: unknown keys {unknown}; valid keys: {sorted(names)}")
    kwargs = {name: _convert(value, hints[name], f"{where}.{name}") for name, value in values.items()}
    return cls(**kwargs)


def _convert(value: Any, kind: Any, key: str) -> Any:
    """``value`` as an instance of the type annotation ``kind``; UserError naming ``key`` if it is not one."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin is Annotated:
        value = _convert(value, args[0], key)
        for allowed in (a for a in args[1:] if isinstance(a, Range)):
            if value not in allowed:
                raise UserError(f"{key}: must be {allowed}, got {value!r}")
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
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is not None:
            if not math.isfinite(number):
                raise UserError(f"{key}: must be a finite number, got {value!r}")
            return number
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
    values = load_params(path)
    for key in section.split("."):
        values = values.get(key, {}) if isinstance(values, dict) else {}
    return from_dict(cls, values, f"{path}:{section}")


def load_params(path: str | Path) -> dict[str, Any]:
    """A params YAML file: a mapping of sections (one line naming the file if it is not)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such params file: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not UTF-8 text (byte {err.start}); params files are UTF-8 YAML") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        raise UserError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of sections (section: settings), got {data!r}")
    return data


def override(config: T, **flags: Any) -> T:
    """Replace the fields whose flag value is not None, each checked against its field's type."""
    hints = _hints(type(config))
    given = {k: _convert(v, hints[k], k) for k, v in flags.items() if v is not None}
    return dataclasses.replace(config, **given) if given else config


def override_from(config: T, args: argparse.Namespace, *names: str, **flags: Any) -> T:
    """:func:`override` with the flags ``names`` of ``args`` (each named as its field), then ``flags``."""
    return override(config, **{name: getattr(args, name) for name in names}, **flags)


def add_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    config: Any,
    flag: str,
    *,
    field: str | None = None,
    **kwargs: Any,
) -> argparse.Action:
    """``parser.add_argument(flag, **kwargs)`` for a flag that sets ``field`` of ``config`` (a stage
    config; dotted for a nested one; by default the flag's name), its help ending with the field's
    default. The flag itself defaults to None, so a params file's value stands unless it is given."""
    value = config
    for name in (field or flag.lstrip("-").replace("-", "_")).split("."):
        value = getattr(value, name)
    kwargs["help"] = f"{kwargs['help']} (default: {shown_default(value)})"
    return parser.add_argument(flag, **kwargs)


def shown_default(value: Any) -> str:
    """A default as a flag's help shows it: a list as its items joined by commas."""
    return ", ".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
