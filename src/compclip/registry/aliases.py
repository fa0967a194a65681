"""Aliases: ``R/aliases/NAME/STAGE.json`` names the version a stage serves.

An alias moves only by compare-and-swap on its ETag (created with ``IfNoneMatch='*'``), so two
people promoting at once can never tear it or lose a move: one wins, the other sees the new
alias and tries again (or, for a rollback, stops).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from compclip.errors import UserError
from compclip.registry.layout import alias_key, check_stage, join, version_dir
from compclip.registry.store import Store


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
        return dict(self.__dict__)


def read(store: Store, name: str, stage: str) -> tuple[Alias, str] | None:
    """The alias and its ETag, or None when the stage points nowhere yet."""
    found = store.get_json(alias_key(name, stage))
    if found is None:
        return None
    data, etag = found
    try:
        return Alias(**data), etag
    except TypeError as err:
        raise UserError(f"{store.root}/{alias_key(name, stage)}: not an alias ({err})") from err


def resolve(root: str, name: str, stage: str) -> str:
    """The URI of the version ``stage`` of ``name`` points to (``R/registry/NAME/vN/``)."""
    found = read(Store(root), name, check_stage(stage))
    if found is None:
        raise UserError(f"{name} has no {stage} version in {root}; promote one first")
    return found[0].uri


def move(
    store: Store, name: str, stage: str, version: str, by: str, current: tuple[Alias, str] | None
) -> Alias | None:
    """Point ``stage`` at ``version`` if the alias is still ``current`` (None: absent); the new
    alias, or None when another writer moved it first."""
    alias = Alias(
        name=name,
        stage=stage,
        version=version,
        uri=join(store.root, version_dir(name, version)),
        previous=current[0].version if current else None,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        by=by,
    )
    body = (json.dumps(alias.as_dict(), indent=2) + "\n").encode()
    key = alias_key(name, stage)
    done = store.create(key, body) if current is None else store.swap(key, body, current[1])
    return alias if done else None
