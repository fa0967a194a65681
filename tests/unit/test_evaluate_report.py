"""A model's report leads with its headline and plots; raw tables are folded; headline metrics are flat."""

from __future__ import annotations

import base64
import math

from compclip.evaluate import report
from compclip.evaluate.headline import headline_metrics
from compclip.evaluate.run import EvaluateConfig, model_label

METRICS = {
    "zeroshot/gp/acc": 0.6, "zeroshot/gp/n": 100, "zeroshot/gp/pearson_r": 0.9, "zeroshot/gp/spearman_r": 0.8,
    "zeroshot/gp/gap": 0.25, "zeroshot/gp/gap_ci_low": 0.1, "zeroshot/gp/gap_ci_high": 0.4,
    "zeroshot/gp/never_together/n": 10, "zeroshot/gp/never_together/acc": 0.3,
    "zeroshot/gp/dropped_share": 0.0,
    "zeroshot/single/acc": 0.9, "zeroshot/single/pearson_r": math.nan,
    "sugarcrepe/swap_att/acc": 0.5, "sugarcrepe/swap_obj/acc": 0.7, "sugarcrepe/replace_rel/acc": 0.8,
    "sugarcrepe/mean/acc": 0.6667, "sugarcrepe/n": 30, "sugarcrepe/dropped_share": 0.005,
}  # fmt: skip
BINS = {"gp": {"bins": [{"bin": i, "count": 30, "pmi_min": i, "pmi_max": i + 1.0, "pmi_mean": i + 0.5,
                         "accuracy": 0.5 + 0.1 * i, "ci_low": 0.3, "ci_high": 0.9} for i in range(3)],
               "never_together": {"count": 10, "accuracy": 0.3, "ci_low": 0.1, "ci_high": 0.6}}}  # fmt: skip


def test_headline_metrics_are_the_flat_finite_answer():
    assert headline_metrics(METRICS) == {
        "gp/acc": 0.6, "gp/pearson_r": 0.9, "gp/gap": 0.25, "gp/gap_ci_low": 0.1, "gp/gap_ci_high": 0.4,
        "single/acc": 0.9, "sugarcrepe/acc": (0.5 + 0.7 + 0.8) / 3,
        "compositional/swap": 0.6, "compositional/replace": 0.8,
    }  # fmt: skip


def test_report_leads_with_headline_and_plots_and_folds_the_tables(tmp_path):
    plots = report.write_plots(tmp_path / "plots", METRICS, BINS)
    assert sorted(p.name for p in plots) == ["sugarcrepe_acc.png", "zeroshot_gp_pmi.png"]
    config = {"stats": {"ci": 0.95}}
    page = report.write_html(tmp_path / "report.html", "m", METRICS, BINS, plots, config).read_text()
    first_plot = page.index(base64.b64encode(plots[0].read_bytes()).decode())
    assert page.index("+0.250 [+0.100, +0.400]") < first_plot < page.index("<details>")
    assert "0.300 (n=10)" in page and "0.5%" in page  # never-together row, sugarcrepe's dropped share
    assert page.index("<summary>all metrics</summary>") > first_plot and "<script" not in page


def test_reports_name_a_model_folder_by_name_and_weights_not_location():
    info = {"files": {"open_clip_model.safetensors": "ab" * 32}}
    assert model_label("s3://bucket/models/base/", info) == model_label("/tmp/x/base", info)
    assert model_label("/tmp/x/base", info) == "base (weights sha256 abababababab)"
    assert model_label("ViT-B-32:openai", {}) == "ViT-B-32:openai"
    assert EvaluateConfig().max_reject_share == 0.01
