"""Compare evaluation reports side by side: the evidence that a tuned model beats its base.

Reads the ``metrics.json`` of several ``compclip evaluate`` folders and writes
``compare.json`` (the selected metrics per model, and each model's difference from the first,
the baseline) and ``compare.md`` (the same as a table).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from compclip.errors import UserError
from compclip.storage import atomic_write_bytes

# Metrics shown, in order: zero-shot accuracy and the PMI effect, then compositional accuracy.
ROWS = (
    r"zeroshot/[^/]+/acc",
    r"zeroshot/[^/]+/single_object/acc",
    r"zeroshot/[^/]+/pearson_r",
    r"zeroshot/[^/]+/gap",
    r"(sugarcrepe|valse|aro)/[^/]+/acc",
)
FAMILIES = {"swap": "swap_", "replace": "replace_", "add": "add_"}


def read_metrics(folder: Path) -> dict[str, float]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise UserError(f"{folder}: no metrics.json; run `compclip evaluate --out {folder}` first")
    return json.loads(path.read_text())


def select(metrics: dict[str, float]) -> dict[str, float]:
    """The compared metrics of one report, plus the mean accuracy of each compositional family."""
    chosen = {k: v for pattern in ROWS for k, v in sorted(metrics.items()) if re.fullmatch(pattern, k)}
    for family, prefix in FAMILIES.items():
        values = [v for k, v in chosen.items() if k.split("/")[1].startswith(prefix) and v is not None]
        if values:
            chosen[f"compositional/{family}/mean_acc"] = sum(values) / len(values)
    return chosen


def compare(reports: dict[str, Path], out: Path) -> dict:
    """Write compare.json and compare.md for ``name -> report folder``; the first is the baseline."""
    if len(reports) < 2:
        raise UserError("compare needs at least two reports")
    selected = {name: select(read_metrics(folder)) for name, folder in reports.items()}
    base_name = next(iter(selected))
    keys = list(dict.fromkeys(k for values in selected.values() for k in values))
    delta = {
        name: {k: _sub(values.get(k), selected[base_name].get(k)) for k in keys}
        for name, values in selected.items()
        if name != base_name
    }
    result = {"baseline": base_name, "metrics": selected, "delta": delta}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "compare.json", (json.dumps(result, indent=2) + "\n").encode())
    atomic_write_bytes(out / "compare.md", markdown(result, keys).encode())
    return result


def _sub(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a - b


def markdown(result: dict, keys: list[str]) -> str:
    names = list(result["metrics"])
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in keys:
        cells = []
        for name in names:
            value = result["metrics"][name].get(key)
            change = result["delta"].get(name, {}).get(key)
            cell = "-" if value is None else f"{value:.3f}"
            cells.append(cell if change is None else f"{cell} ({change:+.3f})")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
