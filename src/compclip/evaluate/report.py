"""Plots (accuracy against PMI bins, accuracy per benchmark subset) and one self-contained HTML report."""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

SUBSET_ACC = re.compile(r"^(?P<family>[^/]+)/(?P<subset>[^/]+)/acc$")


def pmi_plot(path: Path, title: str, series: dict[str, dict]) -> Path:
    """Accuracy per PMI bin with each bin's CI, one line per series (``label -> bins.json entry``).

    Finite-PMI bins sit on a PMI axis; the items that never co-occur (PMI -inf) get a panel of
    their own on the left, so no stand-in PMI is drawn.
    """
    never = any(entry.get("never_together") for entry in series.values())
    fig, axes = plt.subplots(
        1, 2 if never else 1, figsize=(6.4, 4), sharey=True, squeeze=False,
        gridspec_kw={"width_ratios": [1, 6] if never else [1]},
    )  # fmt: skip
    main_ax = axes[0, -1]
    for k, (label, entry) in enumerate(series.items()):
        rows = entry["bins"]
        x = np.array([r["pmi_mean"] for r in rows])
        y = np.array([r["accuracy"] for r in rows])
        err = np.array(
            [[r["accuracy"] - r["ci_low"] for r in rows], [r["ci_high"] - r["accuracy"] for r in rows]]
        )
        main_ax.errorbar(x, y, yerr=err, fmt="o-", color=f"C{k}", capsize=3, label=label)
        if never and (row := entry.get("never_together")):
            offset = 0.1 * (k - (len(series) - 1) / 2)
            axes[0, 0].errorbar(
                [offset], [row["accuracy"]], yerr=_errors([row]), fmt="s", color=f"C{k}", capsize=3
            )
    if never:
        axes[0, 0].set_xlim(-0.5, 0.5)
        axes[0, 0].set_xticks([0], ["never\ntogether"])
        axes[0, 0].set_ylabel("zero-shot accuracy")
    else:
        main_ax.set_ylabel("zero-shot accuracy")
    main_ax.set_xlabel("PMI of the concept pair (bin mean)")
    main_ax.set_ylim(-0.02, 1.02)
    main_ax.legend(loc="lower right")
    fig.suptitle(title)
    return _save(fig, path)


def bar_plot(path: Path, family: str, accuracies: dict[str, float]) -> Path:
    """Accuracy per subset of one benchmark."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(accuracies) + 2), 4))
    names = list(accuracies)
    ax.bar(names, [accuracies[n] for n in names])
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (positive beats every negative)")
    ax.set_title(family)
    ax.tick_params(axis="x", rotation=45)
    for i, name in enumerate(names):
        ax.text(i, accuracies[name] + 0.01, f"{accuracies[name]:.2f}", ha="center", fontsize=8)
    return _save(fig, path)


def _errors(rows: list[dict]) -> np.ndarray:
    """Error bar lengths below and above each row's accuracy, from its CI."""
    return np.array(
        [[r["accuracy"] - r["ci_low"] for r in rows], [r["ci_high"] - r["accuracy"] for r in rows]]
    )


def _pmi_title(name: str, metrics: dict) -> str:
    r, rho = metrics.get(f"zeroshot/{name}/pearson_r"), metrics.get(f"zeroshot/{name}/spearman_r")
    return f"{name}: Pearson r = {_num(r)}, Spearman ρ = {_num(rho)} (finite-PMI bins)"


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _num(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def write_plots(folder: Path, metrics: dict, bins: dict[str, list[dict]]) -> list[Path]:
    """One PMI plot per eval set with bins, one bar chart per benchmark family."""
    plots = [
        pmi_plot(folder / f"zeroshot_{name}_pmi.png", _pmi_title(name, metrics), {"accuracy (95% CI)": entry})
        for name, entry in bins.items()
    ]
    families: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in metrics.items():
        match = SUBSET_ACC.match(key)
        if match and match["family"] not in ("zeroshot", "rejects"):
            families[match["family"]][match["subset"]] = value
    plots += [bar_plot(folder / f"{family}_acc.png", family, accs) for family, accs in families.items()]
    return plots


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    return _num(value) if isinstance(value, float) else str(value)


def write_html(path: Path, model: str, metrics: dict, bins: dict, plots: list[Path], config: dict) -> Path:
    """One HTML file with the metrics, the PMI bins and every plot inlined as base64 PNG."""
    sections = []
    groups: dict[str, list[list]] = defaultdict(list)
    for key, value in sorted(metrics.items()):
        family, _, rest = key.partition("/")
        groups[family].append([rest, _cell(value)])
    for family, rows in groups.items():
        sections.append(f"<h2>{html.escape(family)}</h2>" + _table(rows, ["metric", "value"]))
    for name, entry in bins.items():
        cells = [[r["bin"], r["count"], _cell(r["pmi_min"]), _cell(r["pmi_max"]), _cell(r["pmi_mean"]),
                  _cell(r["accuracy"])] for r in entry["bins"]]  # fmt: skip
        header = ["bin", "items", "PMI min", "PMI max", "PMI mean", "accuracy"]
        sections.append(f"<h2>PMI bins: {html.escape(name)}</h2>" + _table(cells, header))
    for plot in plots:
        data = base64.b64encode(plot.read_bytes()).decode()
        sections.append(
            f'<figure><img alt="{html.escape(plot.stem)}" src="data:image/png;base64,{data}"></figure>'
        )
    settings = html.escape(json.dumps(config, indent=1, default=str))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>compclip evaluate: {html.escape(model)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}} img{{max-width:100%}}</style></head>
<body><h1>compclip evaluate: {html.escape(model)}</h1>
<p>Zero-shot accuracy against PMI: items in equal-count PMI bins (pairs that never co-occur, PMI -inf,
sort lowest); r across bins; gap = accuracy of the top minus the bottom PMI tail with a bootstrap CI.
Benchmarks: an item is correct when its caption scores higher than every negative.</p>
{"".join(sections)}
<details><summary>settings</summary><pre>{settings}</pre></details>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
