"""Plots (accuracy and yes-share by PMI bin) and one self-contained HTML report of a VQA analysis."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from compclip.evaluate.stats import Bins

LABELS = {"accuracy": "VQA accuracy", "yes_bias": "share answered yes (answer is yes)"}


def _num(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def bin_plot(path: Path, name: str, bins: Bins, r: float, rho: float) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(bins.pmi_mean, bins.accuracy, "o-")
    ax.set_title(f"{LABELS[name]}: Pearson r = {_num(r)}, Spearman ρ = {_num(rho)}", fontsize=9)
    ax.set_xlabel("mean PMI of the question's concept pairs (bin mean)")
    ax.set_ylabel(LABELS[name])
    ax.set_ylim(-0.02, 1.02)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _table(rows: list[list], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(folder: Path, title: str, metrics: dict, bins: dict[str, Bins], settings: dict) -> Path:
    """``plots/*.png`` and ``report.html`` (metrics, bins, plots inlined) in ``folder``."""
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    sections = [_table([[k, _num(v) if isinstance(v, float) else v] for k, v in sorted(metrics.items())],
                       ["metric", "value"])]  # fmt: skip
    for name, found in bins.items():
        prefix = "yes_bias/" if name == "yes_bias" else ""
        plot = bin_plot(folder / "plots" / f"{name}_pmi.png", name, found,
                        metrics.get(f"{prefix}pearson_r"), metrics.get(f"{prefix}spearman_r"))  # fmt: skip
        rows = [
            [r["bin"], r["count"], _num(r["pmi_min"]), _num(r["pmi_max"]), _num(r["accuracy"])]
            for r in found.rows()["bins"]
        ]
        data = base64.b64encode(plot.read_bytes()).decode()
        figure = f'<figure><img alt="{name}" src="data:image/png;base64,{data}"></figure>'
        table = _table(rows, ["bin", "questions", "PMI min", "PMI max", LABELS[name]])
        sections.append(f"<h2>{html.escape(LABELS[name])} by PMI bin</h2>{table}{figure}")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}} img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Each question is scored by the mean PMI of the concept pairs of its question and answer (OCR tokens
excluded); questions in equal-count PMI bins; r across bins; gap = the top minus the bottom PMI tail,
with a bootstrap CI. Yes-bias: among questions whose answer is yes, the share the model answered yes.</p>
{"".join(sections)}
<details><summary>settings</summary><pre>{html.escape(json.dumps(settings, indent=1, default=str))}</pre>
</details>
</body></html>
"""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
