"""The registry's own gate policy: per model, versioned, in the audit log.

``registry policy set`` appends a ``policy`` event holding the gate thresholds (a
:class:`~compclip.registry.gates.GatesConfig`), the policy's version and the reason; the policy in
force is the last such event of a log that verifies. Promotion, rollback and the pipeline evaluate
it, never a file the caller brings. A model without a policy event is under the defaults of
:class:`GatesConfig` (policy version 0): every compositional family, no margin.
"""

from __future__ import annotations

from dataclasses import asdict

from compclip.config import from_dict
from compclip.errors import UserError
from compclip.registry import audit
from compclip.registry.gates import GatesConfig
from compclip.registry.layout import check_name
from compclip.registry.store import Store


def in_force(events: list[dict]) -> tuple[GatesConfig, int]:
    """The policy of a (verified) log and its version; the defaults and 0 without a policy event."""
    for event in reversed(events):
        if event.get("action") == "policy":
            return from_dict(GatesConfig, event["policy"], "registry policy"), event["policy_version"]
    return GatesConfig(), 0


def history(events: list[dict]) -> list[dict]:
    return [event for event in events if event.get("action") == "policy"]


def set_policy(root: str, name: str, config: GatesConfig, reason: str | None) -> tuple[dict, bool]:
    """Make ``config`` the policy of ``name`` (needs a reason); the policy event in force, and whether
    it is new (a policy equal to the one in force changes nothing, so scripts may set it each run)."""
    check_name(name)
    if not reason or not reason.strip():
        raise UserError("policy set needs --reason TEXT: a policy change is audited with its reason")
    store = Store(root)
    events = audit.trusted(store, name)
    current, version = in_force(events)
    if version and current == config:
        return history(events)[-1], False
    event = audit.new_event(
        name, "policy", None, policy=asdict(config), policy_version=version + 1, reason=reason.strip()
    )
    return audit.append(store, name, event), True
