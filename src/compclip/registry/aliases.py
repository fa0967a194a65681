"""Aliases: ``R/aliases/NAME/STAGE.json`` names the version a stage serves.

An alias moves only by compare-and-swap on its ETag (created with ``IfNoneMatch='*'``), so two
people promoting at once can never tear it or lose a move: one wins, the other sees the new
alias and tries again (or, for a rollback, stops).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from compclip.errors import UserError
from compclip.registry.layout import alias_key, check_stage, join, version_dir
from compclip.registry.store import Store, json_body


@dataclass(frozen=True)
class Alias:
    name: str
    stage: str
    version: str
    uri: str
    previous: str | None
    updated_at: str
    by: str

    def as_dict(self) -> dict:
        return asdict(self)


def read(store: Store, name: str, stage: str) -> tuple[Alias, str] | None:
    """The alias and its ETag, or None when the stage points nowhere yet."""
    found = store.get_json(alias_key(name, stage))
    if found is None:
        return None
    data, etag = found
    known = {f.name for f in fields(Alias)}
    try:
        return Alias(**{k: v for k, v in data.items() if k in known}), etag
    except TypeError as err:
        raise UserError(f"{store.root}/{alias_key(name, stage)}: not an alias ({err})") from err


def current(store: Store, name: str, stage: str) -> Alias:
    """The alias of ``stage``; a UserError when it points nowhere yet."""
    found = read(store, name, check_stage(stage))
    if found is None:
        raise UserError(f"{name} has no {stage} version in {store.root}; promote one first")
    return found[0]


def resolve(root: str, name: str, stage: str) -> str:
    """The URI of the version ``stage`` of ``name`` points to (``R/registry/NAME/vN/``)."""
    return current(Store(root), name, stage).uri


def move(
    store: Store, name: str, stage: str, version: str, by: str, held: tuple[Alias, str] | None
) -> Alias | None:
    """Point ``stage`` at ``version`` if the alias is still ``held`` (the alias and ETag read; None:
    no alias yet); the new alias, or None when another writer moved it first."""
    alias = Alias(
        name=name,
        stage=stage,
        version=version,
        uri=join(store.root, version_dir(name, version)),
        previous=held[0].version if held else None,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        by=by,
    )
    body = json_body(alias.as_dict())
    key = alias_key(name, stage)
    done = store.create(key, body) if held is None else store.swap(key, body, held[1])
    return alias if done else None
