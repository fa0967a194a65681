"""A comparison's tables (``compare.md``) and its HTML report (``compare.html``).

The HTML leads with the answer (each family's change with its paired CI, as a table and a forest
plot), then accuracy against PMI of every model overlaid, then the full tables."""

from __future__ import annotations

import html
import re
from pathlib import Path

import matplotlib.pyplot as plt

from compclip.evaluate import report
from compclip.storage import atomic_write_bytes

# The changes a forest plot shows, in order: compositional families, then zero-shot accuracy and gap.
FOREST = (r"compositional/[^/]+/mean_acc", r"zeroshot/[^/]+/acc", r"zeroshot/[^/]+/gap")


def forest_rows(paired: dict[str, dict]) -> list[str]:
    """The metrics with a paired CI for some model, in :data:`FOREST` order."""
    keys = list(dict.fromkeys(k for changes in paired.values() for k in changes))
    return [k for pattern in FOREST for k in keys if re.fullmatch(pattern, k)]


def _label(key: str) -> str:
    return key.removeprefix("compositional/").removesuffix("/mean_acc").removeprefix("zeroshot/")


def forest_plot(path: Path, result: dict) -> Path | None:
    """Each tuned model's change from the baseline per metric, with its paired CI; None if no CIs."""
    paired, rows = result["paired"], forest_rows(result["paired"])
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.42 * len(rows) * max(1, len(paired)) ** 0.5))
    for k, (model, changes) in enumerate(paired.items()):
        offset = 0.6 * (k - (len(paired) - 1) / 2) / max(1, len(paired))
        ys = [i + offset for i, key in enumerate(rows) if key in changes]
        found = [changes[key] for key in rows if key in changes]
        x = [c["change"] for c in found]
        err = [[c["change"] - c["ci_low"] for c in found], [c["ci_high"] - c["change"] for c in found]]
        ax.errorbar(x, ys, xerr=err, fmt="o", color=f"C{k}", capsize=3, label=model)
    ax.axvline(0, color="grey", lw=1)
    groups = [next(i for i, pattern in enumerate(FOREST) if re.fullmatch(pattern, key)) for key in rows]
    for i in range(1, len(rows)):
        if groups[i] != groups[i - 1]:
            ax.axhline(i - 0.5, color="lightgrey", lw=0.8, ls="--")
    ax.set_yticks(range(len(rows)), [_label(k) for k in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"change from {result['baseline']} ({result['ci']:.0%} paired bootstrap CI)")
    ax.set_title("change per compositional family and zero-shot set")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return report.save(fig, path)


def overlay_plots(folder: Path, result: dict, bins: dict[str, dict]) -> list[Path]:
    """Per zero-shot set with PMI bins in the baseline: every model's bin accuracy against PMI."""
    base = result["baseline"]
    plots = []
    for name in bins.get(base, {}):
        series = {model: sets[name] for model, sets in bins.items() if name in sets}
        title = f"{name}: accuracy against PMI, {', '.join(series)}"
        plots.append(report.pmi_plot(folder / f"zeroshot_{name}_pmi.png", title, series))
    return plots


def _change(change: dict | None) -> str:
    if change is None:
        return "-"
    return f"{change['change']:+.3f} [{change['ci_low']:+.3f}, {change['ci_high']:+.3f}]"


def headline(result: dict) -> str:
    """Per forest row, each tuned model's change with its CI."""
    paired = result["paired"]
    rows = [
        [_label(key), *(_change(changes.get(key)) for changes in paired.values())]
        for key in forest_rows(paired)
    ]
    return report.table(rows, ["change from " + result["baseline"], *paired])


def write_html(folder: Path, result: dict, bins: dict[str, dict]) -> Path:
    """``compare.html`` (and its plots under ``plots/``) in ``folder``."""
    names = list(result["metrics"])
    plots = [p for p in [forest_plot(folder / "plots" / "forest.png", result)] if p is not None]
    plots += overlay_plots(folder / "plots", result, bins)
    explain = (
        f"<p class='note'>Change of each tuned model from {html.escape(result['baseline'])}, with a paired "
        f"bootstrap CI ({result['ci']:.0%}): each replicate resamples the items once and scores both models "
        "on them. A family (swap, replace, add) is the mean over its benchmark subsets; gap: accuracy of the "
        "top minus the bottom 5% of items by PMI (a fall means the model depends less on co-occurrence). "
        "Accuracy-against-PMI plots: equal-count bins of the finite-PMI items with Wilson CIs; pairs that "
        "never co-occur on the left.</p>"
    )
    body = (
        "<h2>Changes with their paired CIs</h2>"
        + headline(result)
        + explain
        + "".join(report.figure(p) for p in plots)
        + "<h2>All compared metrics</h2>"
        + report.table(metric_rows(result), ["metric", *names])
        + f"<p class='note'>{html.escape(note(result))}</p>"
        + "<h2>Data: items scored (share dropped)</h2>"
        + report.table(data_rows(result["data"]), ["data", *names])
    )
    title = f"compclip compare: {', '.join(names[1:])} against {names[0]}"
    path = folder / "compare.html"
    atomic_write_bytes(path, report.page(title, body).encode())
    return path


def metric_rows(result: dict) -> list[list[str]]:
    """Per compared metric its name and, per report, the value with its change from the baseline and CI."""
    rows = []
    for key in dict.fromkeys(k for values in result["metrics"].values() for k in values):
        row = [key]
        for name in result["metrics"]:
            value = result["metrics"][name].get(key)
            change = result["delta"].get(name, {}).get(key)
            interval = result["paired"].get(name, {}).get(key)
            cell = "-" if value is None else f"{value:.3f}"
            if change is not None:
                ci = "" if interval is None else f" [{interval['ci_low']:+.3f}, {interval['ci_high']:+.3f}]"
                cell += f" ({change:+.3f}{ci})"
            row.append(cell)
        rows.append(row)
    return rows


def data_rows(data: dict[str, dict]) -> list[list[str]]:
    """Per zero-shot set and benchmark: items scored and records dropped, per report."""
    keys = list(dict.fromkeys(k for sizes in data.values() for k in sizes))
    return [[key, *(_size(sizes.get(key)) for sizes in data.values())] for key in keys]


def note(result: dict) -> str:
    names = list(result["metrics"])
    return f"Change from {names[0]} in parentheses; brackets: its {result['ci']:.0%} paired bootstrap CI."


def markdown(result: dict) -> str:
    names = list(result["metrics"])
    parts = [
        _markdown_table(["metric", *names], metric_rows(result)),
        note(result),
        _markdown_table(["data: n (dropped)", *names], data_rows(result["data"])),
    ]
    return "\n\n".join(parts) + "\n"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _size(size: dict | None) -> str:
    if size is None or size["n"] is None:
        return "-"
    return f"{size['n']} ({size['dropped_share']:.1%})"
