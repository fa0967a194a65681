"""The audit log: ``R/audit/NAME/NNNNNNNN.json``, a hash chain of events, each written once.

Event N holds ``seq`` N and ``prev``, the sha256 of event N-1's bytes (None for the first), and is
created with ``IfNoneMatch='*'``: of two writers racing for N one wins, the other appends N+1.
:func:`verify` reports a missing number, an edited or replaced event and anything else under the
log's prefix. An event says who (``$COMPCLIP_ACTOR``, else user@host), when, what (publish,
promote, rollback, policy), which stage moved from which version to which, why, the gate results
under which policy version, what was overridden, and the manifest digest of the version.

An alias move carries its event inside the alias, and the event is appended after the alias moved;
:func:`recover` appends the event of an alias whose mover died in between, so a move is never
left unrecorded (every writer, ``registry audit`` and ``registry verify`` call it).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from compclip.errors import UserError
from compclip.registry import aliases, read
from compclip.registry.layout import STAGES, audit_dir, audit_key, audit_seq
from compclip.registry.store import Store, json_body

ACTIONS = ("publish", "promote", "rollback", "policy")
CHAINED = ("seq", "prev")  # the fields append adds
MAX_ATTEMPTS = 50


def actor() -> str:
    """Who acts: ``$COMPCLIP_ACTOR`` (the pipeline sets it), else ``user@host`` (``uidN@host`` for a
    uid without a name, as in a container run as an arbitrary uid)."""
    if given := os.environ.get("COMPCLIP_ACTOR"):
        return given
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def new_event(name: str, action: str, to_version: str | None, by: str | None = None, **fields) -> dict:
    """An event not yet in the log: id, name, action, target version, who and when, and ``fields``
    (stage, from, reason, gates, forced, ...)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return {
        "id": uuid.uuid4().hex,
        "name": name,
        "action": action,
        "to": to_version,
        "by": by or actor(),
        "at": datetime.now(UTC).isoformat(timespec="microseconds"),
        **{"stage": None, "from": None, "reason": None, "gates": None, "forced": False, "overrode": []},
        **fields,
    }


@dataclass(frozen=True)
class Entry:
    """One event of the log as stored: its number, its object's sha256, the event."""

    seq: int
    sha256: str
    event: dict


def _entry(store: Store, key: str, seq: int) -> Entry | str:
    """The entry at ``key``, or what is wrong with it."""
    found = store.get(key)
    if found is None:
        return f"event {seq} vanished while reading"
    body = found[0]
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return f"event {seq} is not JSON"
    if not isinstance(event, dict) or event.get("seq") != seq:
        return f"event {seq} does not hold its own number"
    return Entry(seq, hashlib.sha256(body).hexdigest(), event)


def read_log(store: Store, name: str) -> tuple[list[Entry], list[str]]:
    """Every entry of ``name``'s log in order, and every problem :func:`verify` would report about the
    chain itself (gaps, edits, foreign objects)."""
    entries, problems = [], []
    for key in store.keys(audit_dir(name)):
        seq = audit_seq(key)
        if seq is None or key != audit_key(name, seq):
            problems.append(f"{key} is not an audit event")
            continue
        entry = _entry(store, key, seq)
        if isinstance(entry, str):
            problems.append(entry)
            continue
        expected = entries[-1].seq + 1 if entries else 1
        if seq != expected:
            problems.append(f"events {expected}..{seq - 1} are missing")
        elif entry.event.get("prev") != (entries[-1].sha256 if entries else None):
            problems.append(f"event {seq - 1} was edited or replaced (event {seq} names another digest)")
        entries.append(entry)
    return entries, problems


def append(store: Store, name: str, event: dict) -> dict:
    """Append ``event`` (from :func:`new_event`) as the next number of the chain; the event as written.

    Idempotent: an event already in the log (another writer recovered it meanwhile, or a retried
    step) is returned as it stands, never written twice."""
    for _ in range(MAX_ATTEMPTS):
        entries, problems = read_log(store, name)
        if problems:
            raise UserError(f"{store.root}/{audit_dir(name)}: {problems[0]}; run `registry verify {name}`")
        written = next((e.event for e in entries if e.event.get("id") == event["id"]), None)
        if written is not None:
            return written
        last = entries[-1] if entries else None
        seq = last.seq + 1 if last else 1
        chained = {**event, "seq": seq, "prev": last.sha256 if last else None}
        if store.create(audit_key(name, seq), json_body(chained)):
            return chained
    raise UserError(f"{store.root}/{audit_dir(name)}: the log kept growing over {MAX_ATTEMPTS} tries; retry")


def recover(store: Store, name: str) -> list[dict]:
    """Append the event of every alias whose move was not recorded (its mover died in between);
    the events appended."""
    logged = {entry.event.get("id") for entry in read_log(store, name)[0]}
    appended = []
    for stage in STAGES:
        found = aliases.read(store, name, stage)
        if found is not None and found[0].event["id"] not in logged:
            appended.append(append(store, name, found[0].event))
    return appended


def trusted(store: Store, name: str) -> list[dict]:
    """The events of a log that verifies, oldest first; a UserError naming the first problem otherwise
    (nothing is promoted on a log that was tampered with)."""
    recover(store, name)
    entries, problems = read_log(store, name)
    if problems:
        raise UserError(f"the audit log of {name} in {store.root} fails verification: {problems[0]}")
    return [entry.event for entry in entries]


def verify(store: Store, name: str) -> tuple[int, list[str]]:
    """How many events the log holds and every problem found: gaps, edits, foreign objects; an alias
    that is malformed, whose event is not in the log as the alias holds it, or whose version's
    manifest is not the one it pinned; a published version whose manifest changed since."""
    problems = []
    try:
        recover(store, name)
    except UserError as err:
        problems.append(str(err))
    entries, chained = read_log(store, name)
    problems += chained
    by_id = {entry.event.get("id"): entry.event for entry in entries}
    for stage in STAGES:
        try:
            found = aliases.read(store, name, stage)
            if found is not None:
                read.resolved(store, name, stage)
        except UserError as err:
            problems.append(str(err))
            continue
        if found is None:
            continue
        event = found[0].event
        logged = by_id.get(event["id"])
        if logged is None or {k: v for k, v in logged.items() if k not in CHAINED} != event:
            problems.append(f"the {stage} alias's move {event['id']} is not in the log as the alias holds it")
    for event in by_id.values():
        if event.get("action") != "publish":
            continue
        try:
            digest = read.manifest(store, name, event["to"])[1]
        except UserError as err:
            problems.append(str(err))
            continue
        if digest != event.get("manifest_sha256"):
            problems.append(f"{name} {event['to']}: its manifest changed after it was published")
    return len(entries), problems


def events(store: Store, name: str) -> list[dict]:
    """Every event of ``name``, oldest first (after recovering unrecorded moves); no verification."""
    recover(store, name)
    return [entry.event for entry in read_log(store, name)[0]]
