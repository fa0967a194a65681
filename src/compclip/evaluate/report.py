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

from compclip.evaluate.headline import headline_metrics
from compclip.storage import atomic_write_bytes

SUBSET_ACC = re.compile(r"^(?P<family>[^/]+)/(?P<subset>[^/]+)/acc$")


def pmi_plot(path: Path, title: str, series: dict[str, dict]) -> Path:
    """Accuracy per PMI bin with each bin's CI, one line per series (``label -> bins.json entry``).

    Finite-PMI bins sit on a PMI axis; the items that never co-occur (PMI -inf) get a panel of
    their own on the left, so no stand-in PMI is drawn. Series are nudged apart along x so that
    their CIs do not hide each other.
    """
    never = any(entry.get("never_together") for entry in series.values())
    fig, axes = plt.subplots(
        1,
        2 if never else 1,
        figsize=(5.6, 4),
        sharey=True,
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 6] if never else [1]},
    )
    main_ax = axes[0, -1]
    means = [r["pmi_mean"] for entry in series.values() for r in entry["bins"]]
    width = float(np.ptp(means)) if means else 0.0
    for k, (label, entry) in enumerate(series.items()):
        nudge = (k - (len(series) - 1) / 2) / max(1, len(series))
        x = np.array([r["pmi_mean"] for r in entry["bins"]]) + 0.02 * width * nudge
        y = [r["accuracy"] for r in entry["bins"]]
        main_ax.errorbar(x, y, yerr=_errors(entry["bins"]), fmt="o-", color=f"C{k}", capsize=3, label=label)
        if never and (row := entry.get("never_together")):
            axes[0, 0].errorbar(
                [0.3 * nudge], [row["accuracy"]], yerr=_errors([row]), fmt="s", color=f"C{k}", capsize=3
            )
    if never:
        axes[0, 0].set_xlim(-0.5, 0.5)
        axes[0, 0].set_xticks([0], ["never\ntogether"])
    axes[0, 0].set_ylabel("zero-shot accuracy")
    main_ax.set_xlabel("PMI of the concept pair (bin mean)")
    main_ax.set_ylim(-0.02, 1.02)
    if len(series) > 1:
        main_ax.legend(
            loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(series), frameon=False, fontsize=8
        )
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def bar_plot(path: Path, family: str, accuracies: dict[str, float]) -> Path:
    """Accuracy per subset of one benchmark."""
    fig, ax = plt.subplots(figsize=(min(11.0, max(4.0, 0.6 * len(accuracies) + 1.5)), 4))
    names = list(accuracies)
    ax.bar(names, [accuracies[n] for n in names])
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (positive beats every negative)")
    ax.set_title(family)
    ax.tick_params(axis="x", rotation=45)
    for i, name in enumerate(names):
        ax.text(i, accuracies[name] + 0.01, f"{accuracies[name]:.2f}", ha="center", fontsize=8)
    return save(fig, path)


def _errors(rows: list[dict]) -> np.ndarray:
    """Error bar lengths below and above each row's accuracy, from its CI."""
    return np.array(
        [[r["accuracy"] - r["ci_low"] for r in rows], [r["ci_high"] - r["accuracy"] for r in rows]]
    )


def _pmi_title(name: str, metrics: dict) -> str:
    r, rho = metrics.get(f"zeroshot/{name}/pearson_r"), metrics.get(f"zeroshot/{name}/spearman_r")
    return f"{name}: Pearson r = {_num(r)}, Spearman ρ = {_num(rho)} (finite-PMI bins)"


def save(fig, path: Path) -> Path:
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
        pmi_plot(
            folder / f"zeroshot_{name}_pmi.png", _pmi_title(name, metrics), {"bin accuracy and CI": entry}
        )
        for name, entry in bins.items()
    ]
    families: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in metrics.items():
        match = SUBSET_ACC.match(key)
        if match and match["family"] not in ("zeroshot", "rejects"):
            families[match["family"]][match["subset"]] = value
    plots += [bar_plot(folder / f"{family}_acc.png", family, accs) for family, accs in families.items()]
    return plots


def table(rows: list[list], header: list[str]) -> str:
    """An HTML table of already formatted cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def cell(value) -> str:
    return _num(value) if isinstance(value, float) else "-" if value is None else str(value)


def figure(plot: Path) -> str:
    """A plot inlined as a base64 PNG, so the page needs no other file."""
    data = base64.b64encode(plot.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(plot.stem)}" src="data:image/png;base64,{data}"></figure>'


def folded(summary: str, body: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{body}</details>"


def page(title: str, body: str) -> str:
    """A self-contained HTML page (no scripts, no external files): what the Kubeflow UI shows."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1200px}}
table{{border-collapse:collapse;margin:.5em 0 1em}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left;white-space:nowrap}}
th{{background:#f3f3f3}} img{{max-width:100%}} figure{{display:inline-block;margin:0 1em 1em 0}}
details{{margin:.5em 0}} summary{{cursor:pointer;font-weight:bold}}
.note{{color:#555;font-size:90%;max-width:60em}}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def _gap(metrics: dict, key: str) -> str:
    gap = metrics.get(f"{key}/gap")
    if gap is None:
        return "-"
    low, high = metrics.get(f"{key}/gap_ci_low"), metrics.get(f"{key}/gap_ci_high")
    return f"{gap:+.3f} [{low:+.3f}, {high:+.3f}]" if low is not None and high is not None else f"{gap:+.3f}"


def _interval(row: dict) -> str:
    return f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _share(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def headline(metrics: dict, ci: float) -> str:
    """The answer first: per zero-shot set accuracy, r and the 5% gap with its CI; per benchmark
    its accuracy; per compositional family its mean accuracy."""
    sets = sorted({k.split("/")[1] for k in metrics if re.fullmatch(r"zeroshot/[^/]+/acc", k)})
    rows = []
    for name in sets:
        key = f"zeroshot/{name}"
        never_n = metrics.get(f"{key}/never_together/n")
        never = metrics.get(f"{key}/never_together/acc")
        rows.append(
            [
                name,
                metrics.get(f"{key}/n"),
                cell(metrics.get(f"{key}/acc")),
                cell(metrics.get(f"{key}/pearson_r")),
                cell(metrics.get(f"{key}/spearman_r")),
                _gap(metrics, key),
                "-" if never is None else f"{never:.3f} (n={never_n})",
                _share(metrics.get(f"{key}/dropped_share")),
            ]
        )
    parts = []
    if rows:
        header = [
            "zero-shot set",
            "n",
            "accuracy",
            "Pearson r",
            "Spearman ρ",
            f"5% gap [{ci:.0%} CI]",
            "never together: accuracy",
            "dropped",
        ]
        parts.append("<h2>Zero-shot accuracy against PMI</h2>" + table(rows, header))
    benchmarks = []
    for family in ("sugarcrepe", "valse", "aro"):
        accs = [v for k, v in metrics.items() if re.fullmatch(rf"{family}/(?!mean/)[^/]+/acc", k)]
        if accs:
            benchmarks.append(
                [
                    family,
                    metrics.get(f"{family}/n"),
                    f"{sum(accs) / len(accs):.3f}",
                    len(accs),
                    _share(metrics.get(f"{family}/dropped_share")),
                ]
            )
    composition = {k: v for k, v in headline_metrics(metrics).items() if k.startswith("compositional/")}
    if benchmarks:
        header = ["benchmark", "n", "mean subset accuracy", "subsets", "dropped"]
        families = ", ".join(f"{k.split('/')[1]} {v:.3f}" for k, v in composition.items())
        parts.append(
            "<h2>Compositional benchmarks</h2>"
            + table(benchmarks, header)
            + (f"<p>Mean accuracy per family: {families}.</p>" if families else "")
        )
    return "".join(parts)


def write_html(path: Path, model: str, metrics: dict, bins: dict, plots: list[Path], config: dict) -> Path:
    """The model's report: headline numbers and plots first, raw tables folded below."""
    ci = config["stats"]["ci"]
    groups: dict[str, list[list]] = defaultdict(list)
    for key, value in sorted(metrics.items()):
        family, _, rest = key.partition("/")
        groups[family].append([rest, cell(value)])
    raw = "".join(
        f"<h3>{html.escape(f)}</h3>" + table(rows, ["metric", "value"]) for f, rows in groups.items()
    )
    bin_tables = []
    for name, entry in bins.items():
        rows = [
            [
                r["bin"],
                r["count"],
                cell(r["pmi_min"]),
                cell(r["pmi_max"]),
                cell(r["pmi_mean"]),
                cell(r["accuracy"]),
                _interval(r),
            ]
            for r in entry["bins"]
        ]
        if never := entry.get("never_together"):
            rows.insert(
                0,
                [
                    "never together",
                    never["count"],
                    "-inf",
                    "-inf",
                    "-",
                    cell(never["accuracy"]),
                    _interval(never),
                ],
            )
        header = ["bin", "items", "PMI min", "PMI max", "PMI mean", "accuracy", f"{ci:.0%} CI"]
        bin_tables.append(f"<h3>{html.escape(name)}</h3>" + table(rows, header))
    note = (
        "<p class='note'>Zero-shot accuracy against the PMI of each image's concept pair in the pretraining "
        "corpus. r: across equal-count bins of the items with a finite PMI; items whose pair never "
        "co-occurs (PMI -inf) are their own row, not a bin. 5% gap: accuracy of the highest-PMI 5% of "
        "items minus the lowest 5% (never-together items sort lowest; ties broken by a seeded shuffle), "
        "with a bootstrap CI. Bin CIs: Wilson. Benchmarks: an item is correct when its caption scores "
        "higher than every negative. Dropped: records a benchmark could not use (e.g. unreadable images).</p>"
    )
    body = (
        headline(metrics, ci)
        + note
        + "<h2>Plots</h2>"
        + "".join(figure(p) for p in plots)
        + folded("PMI bins", "".join(bin_tables))
        + folded("all metrics", raw)
        + folded("settings", f"<pre>{html.escape(json.dumps(config, indent=1, default=str))}</pre>")
    )
    atomic_write_bytes(path, page(f"compclip evaluate: {model}", body).encode())
    return path
