"""Aliases: ``R/aliases/NAME/STAGE.json`` names the version a stage serves.

An alias holds the version, its URI, the sha256 of its ``manifest.json`` (so what a stage serves
is pinned, not just named) and the audit event of the move that set it. It moves only by
compare-and-swap on its ETag (created with ``IfNoneMatch='*'``), so two people promoting at once
can never tear it or lose a move: one wins, the other sees the new alias and tries again (or, for
a rollback, stops). Reading refuses an alias that is not one this registry wrote: a URI outside
the root or not the version's, another name or stage, a malformed version or digest.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from compclip.errors import UserError
from compclip.registry.layout import alias_key, check_stage, join, version_dir
from compclip.registry.store import Store, json_body

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Alias:
    name: str
    stage: str
    version: str
    uri: str
    manifest_sha256: str
    previous: str | None
    updated_at: str
    by: str
    event: dict  # the audit event of the move that set it

    def as_dict(self) -> dict:
        return asdict(self)


def read(store: Store, name: str, stage: str) -> tuple[Alias, str] | None:
    """The alias and its ETag, or None when the stage points nowhere yet; a UserError for an
    object that is not a well-formed alias of this stage under this root."""
    key = alias_key(name, stage)
    found = store.get_json(key)
    if found is None:
        return None
    data, etag = found
    where = f"{store.root}/{key}"
    names = {f.name for f in fields(Alias)}
    if not isinstance(data, dict) or set(data) != names:
        raise UserError(f"{where}: not an alias written by compclip (expected the keys {sorted(names)})")
    alias = Alias(**data)
    if (alias.name, alias.stage) != (name, stage):
        raise UserError(f"{where}: names {alias.name} {alias.stage}, not {name} {stage}; refusing it")
    expected = join(store.root, version_dir(name, alias.version))
    if alias.uri != expected:
        raise UserError(f"{where}: points to {alias.uri!r}, not {expected}; refusing it")
    if not isinstance(alias.manifest_sha256, str) or not SHA256.fullmatch(alias.manifest_sha256):
        raise UserError(f"{where}: no valid manifest digest; refusing it")
    event = alias.event if isinstance(alias.event, dict) else {}
    described = (event.get("name"), event.get("stage"), event.get("to"), bool(event.get("id")))
    if described != (name, stage, alias.version, True):
        raise UserError(f"{where}: its audit event does not describe this move; refusing it")
    return alias, etag


def current(store: Store, name: str, stage: str) -> Alias:
    """The alias of ``stage``; a UserError when it points nowhere yet."""
    found = read(store, name, check_stage(stage))
    if found is None:
        raise UserError(f"{name} has no {stage} version in {store.root}; promote one first")
    return found[0]


def move(
    store: Store,
    name: str,
    stage: str,
    version: str,
    manifest_sha256: str,
    event: dict,
    held: tuple[Alias, str] | None,
) -> Alias | None:
    """Point ``stage`` at ``version`` if the alias is still ``held`` (the alias and ETag read; None:
    no alias yet), with the move's audit ``event``; the new alias, or None when another writer moved
    it first."""
    alias = Alias(
        name=name,
        stage=stage,
        version=version,
        uri=join(store.root, version_dir(name, version)),
        manifest_sha256=manifest_sha256,
        previous=held[0].version if held else None,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        by=event["by"],
        event=event,
    )
    body = json_body(alias.as_dict())
    key = alias_key(name, stage)
    done = store.create(key, body) if held is None else store.swap(key, body, held[1])
    return alias if done else None
