"""Promotion gates: one pure function over a comparison (``compare.json``) decides if a model may go on.

Gates (the ``gates`` section of params.yaml):

- ``compositional/FAMILY``: the paired CI lower bound of the family mean's change from the base
  (swap, replace, add) is above ``margin``: the tuned model is better, not just luckier;
- ``zeroshot/SET``: zero-shot accuracy fell at most ``zeroshot_tolerance`` below the base's;
- ``pmi_gap/SET``: the gap between high- and low-PMI accuracy is not wider than the base's
  (in magnitude) by more than ``gap_tolerance``; for each set the base has a gap of (a set
  without PMI, such as single-object scenes, has none).

Missing evidence fails its gate: a comparison without paired CIs or zero-shot sets proves nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from compclip.config import Checked, NonNegativeFloat
from compclip.errors import UserError

FAMILY = re.compile(r"compositional/([^/]+)/mean_acc")
ZEROSHOT = re.compile(r"zeroshot/([^/]+)/acc")
PMI_GAP = re.compile(r"zeroshot/([^/]+)/gap")
COMPOSITIONAL, ZEROSHOT_RULE, GAP = "paired CI low of the change >", "accuracy change >=", "|gap| widening <="


@dataclass(frozen=True)
class GatesConfig(Checked):
    """Thresholds of the promotion gates; ``families`` empty: every family the comparison has."""

    families: tuple[str, ...] = ()
    margin: float = 0.0
    zeroshot_tolerance: NonNegativeFloat = 0.02
    gap_tolerance: NonNegativeFloat = 0.0


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    observed: dict[str, float | None]
    threshold: float
    rule: str

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        seen = ", ".join(f"{k} {_number(v)}" for k, v in self.observed.items()) or "no evidence"
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.name}: {verdict} ({seen}; needs {self.rule} {self.threshold:+.4f})"


def _number(value: float | None) -> str:
    return "missing" if value is None else f"{value:+.4f}"


def candidate_of(comparison: dict, wanted: str | None = None) -> str:
    """The compared model a version is: ``wanted``, or the only one that is not the baseline."""
    others = [name for name in comparison.get("metrics", {}) if name != comparison.get("baseline")]
    if wanted is not None:
        if wanted not in others:
            raise UserError(f"{wanted!r} is not a compared model; the comparison has {others}")
        return wanted
    if len(others) != 1:
        raise UserError(f"the comparison holds {others}; name the published one (--candidate NAME)")
    return others[0]


def evaluate_gates(comparison: dict, candidate: str, config: GatesConfig) -> list[GateResult]:
    """Every gate's result for ``candidate`` against the comparison's baseline."""
    metrics = comparison.get("metrics", {})
    base, tuned = metrics.get(comparison.get("baseline"), {}), metrics.get(candidate, {})
    paired = comparison.get("paired", {}).get(candidate, {})
    return [
        *_compositional(paired, config),
        *_zeroshot(base, tuned, paired, config),
        *_pmi_gap(base, tuned, config),
    ]


def _value(mapping: dict, key: str) -> float | None:
    value = mapping.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _compositional(paired: dict, config: GatesConfig) -> list[GateResult]:
    found = sorted({m.group(1) for key in paired if (m := FAMILY.fullmatch(key))})
    families = config.families or found
    if not families:
        return [GateResult("compositional", False, {}, config.margin, COMPOSITIONAL)]
    results = []
    for family in families:
        interval = paired.get(f"compositional/{family}/mean_acc") or {}
        observed = {k: _value(interval, k) for k in ("change", "ci_low", "ci_high")}
        passed = observed["ci_low"] is not None and observed["ci_low"] > config.margin
        results.append(GateResult(f"compositional/{family}", passed, observed, config.margin, COMPOSITIONAL))
    return results


def _zeroshot(base: dict, tuned: dict, paired: dict, config: GatesConfig) -> list[GateResult]:
    sets = sorted({m.group(1) for key in base if (m := ZEROSHOT.fullmatch(key))})
    threshold = -config.zeroshot_tolerance
    if not sets:
        return [GateResult("zeroshot", False, {}, threshold, ZEROSHOT_RULE)]
    results = []
    for name in sets:
        key = f"zeroshot/{name}/acc"
        before, after = _value(base, key), _value(tuned, key)
        change = _value(paired.get(key) or {}, "change")
        if change is None and before is not None and after is not None:
            change = after - before
        observed = {"base": before, "candidate": after, "change": change}
        passed = change is not None and change >= threshold
        results.append(GateResult(f"zeroshot/{name}", passed, observed, threshold, ZEROSHOT_RULE))
    return results


def _pmi_gap(base: dict, tuned: dict, config: GatesConfig) -> list[GateResult]:
    sets = sorted({m.group(1) for key in base if (m := PMI_GAP.fullmatch(key))})
    results = []
    for name in sets:
        before, after = _value(base, f"zeroshot/{name}/gap"), _value(tuned, f"zeroshot/{name}/gap")
        widening = None if before is None or after is None else abs(after) - abs(before)
        observed = {"base": before, "candidate": after, "widening": widening}
        passed = widening is not None and widening <= config.gap_tolerance
        results.append(GateResult(f"pmi_gap/{name}", passed, observed, config.gap_tolerance, GAP))
    return results


def failures(results: list[GateResult]) -> list[GateResult]:
    return [result for result in results if not result.passed]
