"""The audit log: ``R/audit/NAME/<UTC time>-<uuid>.json``, one object per event, each written once.

An event says who (``$COMPCLIP_ACTOR``, else user@host), when, what (publish, promote, rollback),
which stage moved from which version to which, why, the gate results and whether they were forced.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from datetime import UTC, datetime

from compclip.errors import UserError
from compclip.registry.gates import GateResult
from compclip.registry.layout import audit_dir, audit_key
from compclip.registry.store import Store, json_body

ACTIONS = ("publish", "promote", "rollback")


def actor() -> str:
    """Who acts: ``$COMPCLIP_ACTOR`` (a pipeline or CI sets it), else ``user@host``."""
    return os.environ.get("COMPCLIP_ACTOR") or f"{getpass.getuser()}@{socket.gethostname()}"


def record(
    store: Store,
    name: str,
    action: str,
    to_version: str,
    *,
    stage: str | None = None,
    from_version: str | None = None,
    reason: str | None = None,
    gates: list[GateResult] | None = None,
    forced: bool = False,
    by: str | None = None,
) -> dict:
    """Append one event to ``name``'s log and return it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    when, event_id = datetime.now(UTC), uuid.uuid4().hex
    event = {
        "id": event_id,
        "name": name,
        "action": action,
        "stage": stage,
        "from": from_version,
        "to": to_version,
        "reason": reason,
        "gates": None if gates is None else [gate.as_dict() for gate in gates],
        "forced": forced,
        "by": by or actor(),
        "at": when.isoformat(timespec="microseconds"),
    }
    key = audit_key(name, when, event_id)
    if not store.create(key, json_body(event)):
        raise UserError(f"audit event {store.root}/{key} exists already; the log is append-only")
    return event


def events(store: Store, name: str) -> list[dict]:
    """Every event of ``name``, oldest first."""
    found = []
    for key in store.keys(audit_dir(name)):
        item = store.get_json(key)
        if item is not None:
            found.append(item[0])
    return found
