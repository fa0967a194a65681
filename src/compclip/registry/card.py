"""The model card of a version (``model_card.md``): what the model is, what it was trained on, and
the evidence against its base. A pure function of the version's manifest, lineage and comparison."""

from __future__ import annotations

import math
import re

from compclip.registry.gates import GateResult

GAP = re.compile(r"zeroshot/([^/]+)/gap")


def render(manifest: dict, lineage: dict, comparison: dict, gates: list[GateResult] | None = None) -> str:
    """Markdown: identity, training inputs with their content hashes, every compared metric against the
    base with its paired CI, the PMI gap before and after, the gates at publish time and the files."""
    training = manifest.get("training") or {}
    config = training.get("config") or {}
    candidate, baseline = lineage["candidate"], comparison.get("baseline")
    lines = [
        f"# {lineage['name']} {lineage['version']}",
        "",
        _table(
            ["", ""],
            [
                ["architecture", f"`{manifest.get('model_name', '?')}` (open_clip)"],
                ["base model", f"`{training.get('base', '?')}` (compared as `{baseline}`)"],
                ["method", str(config.get("method", "?"))],
                ["published", f"{lineage['created_at']} by {lineage['by']}"],
                ["git commit", str(lineage.get("git_commit") or "unknown")],
                ["pipeline run", str(lineage.get("run_id") or "none")],
                ["compared as", f"`{candidate}`"],
            ],
        ),
        "## Training data",
        "",
        _table(
            ["input", "URI", "sha256"],
            [[kind, f"`{item.get('uri') or '-'}`", _sha(item)] for kind, item in lineage["inputs"].items()],
        ),
        *_benchmarks(comparison, candidate),
        *_gaps(comparison, candidate),
    ]
    if gates is not None:
        lines += ["## Gates at publish time", "", *(f"- {gate.describe()}" for gate in gates), ""]
    files = sorted(manifest.get("files", {}).items())
    lines += ["## Files", "", _table(["file", "sha256"], [[f"`{k}`", f"`{v}`"] for k, v in files])]
    return "\n".join(lines)


def _sha(item: dict) -> str:
    return f"`{item['sha256']}`" if item.get("sha256") else "not recorded (unreachable at publish)"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _fmt(value: float | None, sign: str = "") -> str:
    ok = isinstance(value, int | float) and math.isfinite(value)
    return f"{value:{sign}.4f}" if ok else "-"


def _sides(comparison: dict, candidate: str) -> tuple[dict, dict, dict, dict]:
    """The base's and the candidate's metrics, the candidate's changes and paired CIs."""
    metrics = comparison.get("metrics", {})
    base, tuned = metrics.get(comparison.get("baseline"), {}), metrics.get(candidate, {})
    delta = comparison.get("delta", {}).get(candidate) or {}
    return base, tuned, delta, comparison.get("paired", {}).get(candidate) or {}


def _cells(key: str, base: dict, tuned: dict, delta: dict, paired: dict) -> list[str]:
    """base, this model, change, paired CI, n."""
    interval = paired.get(key) or {}
    ci = f"[{_fmt(interval['ci_low'], '+')}, {_fmt(interval['ci_high'], '+')}]" if interval else "-"
    change = interval.get("change", delta.get(key))
    return [_fmt(base.get(key)), _fmt(tuned.get(key)), _fmt(change, "+"), ci, str(interval.get("n", "-"))]


def _benchmarks(comparison: dict, candidate: str) -> list[str]:
    sides = _sides(comparison, candidate)
    rows = [[key, *_cells(key, *sides)] for key in dict.fromkeys([*sides[0], *sides[1]])]
    header = ["metric", "base", "this model", "change", f"{comparison.get('ci', 0.95):.0%} paired CI", "n"]
    return ["## Benchmarks against the base", "", _table(header, rows)]


def _gaps(comparison: dict, candidate: str) -> list[str]:
    sides = _sides(comparison, candidate)
    rows = [[m.group(1), *_cells(key, *sides)] for key in sides[0] if (m := GAP.fullmatch(key))]
    header = ["zero-shot set", "gap before (base)", "gap after", "change", "paired CI", "n"]
    text = "High-PMI minus low-PMI tail accuracy per zero-shot set: the smaller, the weaker the PMI effect."
    return ["## PMI gap before and after", "", text, "", _table(header, rows)]
