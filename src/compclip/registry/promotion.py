"""Moving aliases: promotion behind the gates, rollback, and the pipeline's gated promotion.

Each move is a compare-and-swap of the alias followed by one audit event. A promotion that loses
the race to another writer reads the alias again and retries (its intent, "point the stage at vN",
does not depend on what the alias held); a rollback that loses stops, since "back to the
previous version" changed meaning under it.
"""

from __future__ import annotations

from dataclasses import dataclass

from compclip.errors import UserError
from compclip.registry import aliases, audit
from compclip.registry.gates import GateResult, GatesConfig, evaluate_gates, failures
from compclip.registry.layout import check_stage, version_number
from compclip.registry.read import comparison, complete
from compclip.registry.store import Store

MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class Move:
    """An alias move that happened: the new alias, the gate results (None for a rollback), the event."""

    alias: aliases.Alias
    gates: list[GateResult] | None
    event: dict

    def as_dict(self) -> dict:
        gates = None if self.gates is None else [g.as_dict() for g in self.gates]
        return {"alias": self.alias.as_dict(), "gates": gates, "event": self.event}


def check(store: Store, name: str, version: str, config: GatesConfig) -> list[GateResult]:
    """The gates of a complete version, over the comparison it was published with."""
    _, lineage = complete(store, name, version)
    return evaluate_gates(comparison(store, name, version), lineage["candidate"], config)


def promote(
    root: str,
    name: str,
    version: str,
    stage: str,
    config: GatesConfig,
    force: bool = False,
    reason: str | None = None,
) -> Move:
    """Point ``stage`` at ``version`` if its gates pass (or ``force`` with a ``reason``); audited.
    A failed gate raises a UserError naming every failing gate and changes nothing."""
    check_stage(stage)
    version_number(version)
    if force and not reason:
        raise UserError("--force needs --reason TEXT: overriding the gates is audited with its reason")
    store = Store(root)
    results = check(store, name, version, config)
    failed = failures(results)
    if failed and not force:
        lines = "\n  ".join(gate.describe() for gate in failed)
        raise UserError(
            f"{name} {version} fails {len(failed)} gate(s); {stage} unchanged "
            f"(--force --reason TEXT overrides):\n  {lines}"
        )
    by = audit.actor()
    for _ in range(MAX_ATTEMPTS):
        current = aliases.read(store, name, stage)
        if current is not None and current[0].version == version:
            raise UserError(f"{name} {stage} already points to {version}; nothing changed")
        alias = aliases.move(store, name, stage, version, by, current)
        if alias is not None:
            event = audit.record(
                store,
                name,
                "promote",
                version,
                stage=stage,
                from_version=alias.previous,
                reason=reason,
                gates=results,
                forced=bool(failed),
                by=by,
            )
            return Move(alias, results, event)
    raise UserError(f"{name} {stage} kept changing under {MAX_ATTEMPTS} attempts to promote {version}; retry")


def rollback(root: str, name: str, stage: str, reason: str | None = None) -> Move:
    """Point ``stage`` back at the version it held before its last move; audited."""
    store = Store(root)
    found = aliases.read(store, name, check_stage(stage))
    if found is None:
        raise UserError(f"{name} has no {stage} version in {root}; nothing to roll back")
    alias = found[0]
    if alias.previous is None:
        raise UserError(f"{name} {stage} ({alias.version}) has no previous version to roll back to")
    complete(store, name, alias.previous)
    moved = aliases.move(store, name, stage, alias.previous, audit.actor(), found)
    if moved is None:
        raise UserError(f"{name} {stage} moved while rolling back from {alias.version}; check it and retry")
    event = audit.record(
        store, name, "rollback", moved.version, stage=stage, from_version=alias.version, reason=reason
    )
    return Move(moved, None, event)


def promote_if_gates_pass(
    root: str, name: str, version: str, config: GatesConfig, stage: str = "staging"
) -> tuple[Move | None, list[GateResult]]:
    """The pipeline's step after publishing: promote to ``stage`` when every gate passes, else leave
    the alias alone. Returns the move (None when a gate failed) and the gate results."""
    results = check(Store(root), name, version, config)
    if failures(results):
        return None, results
    return promote(root, name, version, stage, config), results
