"""Counting bad records by reason, and failing loudly only when too many are bad.

Every reader and stage uses :class:`Rejects` so that a bad record is never lost silently:
it is counted under a reason, the first few are kept as examples, and
:meth:`Rejects.check` raises a :class:`~compclip.errors.UserError` naming the source
and the first bad records once the rejected share passes a threshold.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from compclip.errors import UserError

MAX_EXAMPLES = 5


@dataclass
class Rejects:
    """Per-reason reject counts with a few examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str, where: str = "", n: int = 1) -> None:
        if n <= 0:
            return
        self.counts[reason] += n
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}" if where else reason)

    def update(self, other: Rejects) -> None:
        self.counts.update(other.counts)
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def check(self, n_seen: int, max_share: float, source: str, reason: str | None = None) -> None:
        """Raise when rejects (those of ``reason`` only, when given: the others are counted but do not
        lose a record) exceed ``max_share`` of ``n_seen`` records (or nothing was usable)."""
        rejected = self.counts[reason] if reason else self.total
        if n_seen and rejected / n_seen <= max_share and rejected < n_seen:
            return
        if not n_seen and not rejected:
            raise UserError(f"{source}: no records found")
        if not rejected:
            return
        first = "; ".join(self.examples)
        raise UserError(
            f"{source}: {rejected} of {n_seen} records rejected "
            f"({self.as_dict()}), over the allowed share {max_share:.0%}; first: {first}"
        )
