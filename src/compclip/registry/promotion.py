"""Moving aliases: promotion behind the registry's gates, rollback as a promotion, the pipeline's step.

Every move evaluates the registry's policy (:mod:`compclip.registry.policy`) over the version's
verified comparison, whose manifest must be the one its publish event recorded; a failed gate
stops it unless forced with a reason. Production takes only a version that was on staging, unless
forced. A rollback is a promotion of the version the stage held before, with a reason.

Each move is a compare-and-swap of the alias, carrying its audit event, then the event's append
(:func:`compclip.registry.audit.recover` appends it if the mover dies in between). A promotion that
loses the race reads the alias again and retries (its intent, "point the stage at vN", does not
depend on what the alias held); a rollback that loses stops, since "back to the previous version"
changed meaning under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from compclip.errors import UserError
from compclip.registry import aliases, audit, read
from compclip.registry.gates import GateResult, evaluate_gates, failures
from compclip.registry.layout import check_name, check_stage, version_number
from compclip.registry.policy import in_force
from compclip.registry.store import Store

MAX_ATTEMPTS = 50
MOVES = ("promote", "rollback")


@dataclass(frozen=True)
class Move:
    """An alias move that happened: the new alias, the gate results, the event."""

    alias: aliases.Alias
    gates: list[GateResult]
    event: dict

    def as_dict(self) -> dict:
        gates = [g.as_dict() for g in self.gates]
        return {"alias": self.alias.as_dict(), "gates": gates, "event": self.event}


@dataclass(frozen=True)
class Evidence:
    """What a move of one version is decided on: its manifest digest, the gates under the policy."""

    manifest_sha256: str
    gates: list[GateResult]
    policy_version: int


def published_digest(events: list[dict], name: str, version: str) -> str:
    """The manifest digest ``version``'s publish event recorded."""
    for event in events:
        if event.get("action") == "publish" and event.get("to") == version:
            return event["manifest_sha256"]
    raise UserError(f"{name} {version} has no publish event in the audit log; publish it again")


def check(store: Store, name: str, version: str, events: list[dict]) -> Evidence:
    """The gates of a complete version under the policy of ``events`` (a verified log), over the
    comparison it was published with, every file checked against the manifest it was published with."""
    version_number(version)
    manifest, digest = read.manifest(store, name, version)
    if digest != published_digest(events, name, version):
        raise UserError(f"{name} {version}: its manifest is not the one it was published with; refusing it")
    files = manifest["files"]
    lineage = read.version_json(store, name, version, files, read.LINEAGE)
    config, policy_version = in_force(events)
    results = evaluate_gates(read.comparison(store, name, version, files), lineage["candidate"], config)
    return Evidence(digest, results, policy_version)


def gates(root: str, name: str, version: str) -> Evidence:
    """A version's gates under the registry's policy, moving nothing."""
    store = Store(root)
    return check(store, check_name(name), version, audit.trusted(store, name))


def _was_on(events: list[dict], version: str, stage: str) -> bool:
    return any(e["action"] in MOVES and e.get("stage") == stage and e["to"] == version for e in events)


def _refusal(name: str, version: str, stage: str, failed: list[GateResult], policy_version: int) -> UserError:
    lines = "\n  ".join(gate.describe() for gate in failed)
    return UserError(
        f"{name} {version} fails {len(failed)} gate(s) of policy v{policy_version}; {stage} unchanged "
        f"(--force --reason TEXT overrides):\n  {lines}"
    )


def promote(
    root: str, name: str, version: str, stage: str, force: bool = False, reason: str | None = None
) -> Move:
    """Point ``stage`` at ``version`` if its gates pass and, for production, it was on staging (or
    ``force`` with a ``reason``); audited. A refusal raises a UserError and changes nothing."""
    check_stage(stage)
    check_name(name)
    version_number(version)
    if force and not reason:
        raise UserError("--force needs --reason TEXT: an override is audited with its reason")
    store = Store(root)
    events = audit.trusted(store, name)
    evidence = check(store, name, version, events)
    overrode = []
    if failed := failures(evidence.gates):
        if not force:
            raise _refusal(name, version, stage, failed, evidence.policy_version)
        overrode.append("gates")
    if stage == "production" and not _was_on(events, version, "staging"):
        if not force:
            raise UserError(
                f"{name} {version} was never on staging; promote it there first "
                "(--force --reason TEXT overrides)"
            )
        overrode.append("staging")
    for _ in range(MAX_ATTEMPTS):
        held = aliases.read(store, name, stage)
        if held is not None and held[0].version == version:
            raise UserError(f"{name} {stage} already points to {version}; nothing changed")
        move = _move(store, name, "promote", stage, version, evidence, held, overrode, reason)
        if move is not None:
            return move
    raise UserError(f"{name} {stage} kept changing under {MAX_ATTEMPTS} attempts to promote {version}; retry")


def rollback(root: str, name: str, stage: str, reason: str | None, force: bool = False) -> Move:
    """Point ``stage`` back at the version it held before its last move: a promotion of that version,
    behind the same gates (or ``force``), always with a ``reason``; audited."""
    check_name(name)
    if not reason:
        raise UserError("rollback needs --reason TEXT: it is audited with its reason")
    store = Store(root)
    events = audit.trusted(store, name)
    held = aliases.read(store, name, check_stage(stage))
    if held is None:
        raise UserError(f"{name} has no {stage} version in {root}; nothing to roll back")
    alias = held[0]
    if alias.previous is None:
        raise UserError(f"{name} {stage} ({alias.version}) has no previous version to roll back to")
    evidence = check(store, name, alias.previous, events)
    overrode = []
    if failed := failures(evidence.gates):
        if not force:
            raise _refusal(name, alias.previous, stage, failed, evidence.policy_version)
        overrode.append("gates")
    move = _move(store, name, "rollback", stage, alias.previous, evidence, held, overrode, reason)
    if move is None:
        raise UserError(f"{name} {stage} moved while rolling back from {alias.version}; check it and retry")
    return move


def _move(
    store: Store,
    name: str,
    action: str,
    stage: str,
    version: str,
    evidence: Evidence,
    held: tuple[aliases.Alias, str] | None,
    overrode: list[str],
    reason: str | None,
) -> Move | None:
    """Swap the alias with its event inside, then append the event; None when the alias changed."""
    event = audit.new_event(
        name,
        action,
        version,
        stage=stage,
        **{"from": held[0].version if held else None},
        reason=reason,
        gates=[g.as_dict() for g in evidence.gates],
        policy_version=evidence.policy_version,
        manifest_sha256=evidence.manifest_sha256,
        forced=bool(overrode),
        overrode=overrode,
    )
    alias = aliases.move(store, name, stage, version, evidence.manifest_sha256, event, held)
    if alias is None:
        return None
    return Move(alias, evidence.gates, audit.append(store, name, event))


def promote_if_gates_pass(
    root: str, name: str, version: str, stage: str = "staging"
) -> tuple[Move | None, list[GateResult]]:
    """The pipeline's step after publishing: promote to ``stage`` when every gate of the registry's
    policy passes, else leave the alias alone. Returns the move (None when a gate failed or the stage
    points to ``version`` already, as when a run's publish step is retried) and the gate results."""
    results = gates(root, name, version).gates
    held = aliases.read(Store(root), name, check_stage(stage))
    if failures(results) or (held is not None and held[0].version == version):
        return None, results
    return promote(root, name, version, stage), results
