"""compare: differences from the baseline and their paired bootstrap CIs, on hand-built reports."""

import base64
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.cli import main
from compclip.errors import UserError
from compclip.evaluate import stats
from compclip.evaluate.compare import compare
from compclip.evaluate.headline import compare_headline
from compclip.evaluate.results import results_file
from compclip.evaluate.stats import StatsConfig, stratified_bootstrap


def write_report(folder, zeroshot_correct, pmi, subsets, bench_correct, ids=None, dropped=0.0):
    """A report folder as ``compclip evaluate`` writes it: metrics.json and the per-item tables."""
    n = len(zeroshot_correct)
    ids = ids or [f"z{i}" for i in range(n)]
    (folder / "results").mkdir(parents=True)
    accessory = [None, None] + ["ring"] * (n - 2)  # two single-object scenes
    scored = np.asarray(pmi, float)
    order = np.argsort(np.where(np.isnan(scored), np.inf, scored))[: int((~np.isnan(scored)).sum())]
    tail = [None] * n
    for i in order[:2]:
        tail[i] = "low"
    for i in order[-2:]:
        tail[i] = "high"
    zeroshot = pa.table({"id": ids, "pmi": pmi, "accessory": accessory, "correct": zeroshot_correct,
                         "pmi_tail": pa.array(tail, pa.string())})  # fmt: skip
    pq.write_table(zeroshot, results_file(folder, "zeroshot/set"))
    bench_ids = [f"{s}/{i}" for i, s in enumerate(subsets)]
    bench = pa.table({"id": bench_ids, "subset": subsets, "correct": bench_correct})
    pq.write_table(bench, results_file(folder, "sugarcrepe"))
    zs, bench = np.asarray(zeroshot_correct, float), np.asarray(bench_correct, float)
    by_pmi = zs[~np.isnan(scored)][np.argsort(scored[~np.isnan(scored)])]
    metrics = {
        "zeroshot/set/acc": zs.mean(),
        "zeroshot/set/gap": by_pmi[-2:].mean() - by_pmi[:2].mean(),
        "zeroshot/set/n_tail": 2,
        "zeroshot/set/single_object/acc": zs[:2].mean(),
        "zeroshot/set/n": n,
        "zeroshot/set/dropped_share": 0.0,
        "sugarcrepe/n": len(bench),
        "sugarcrepe/dropped_share": dropped,
    }
    for subset in sorted(set(subsets)):
        metrics[f"sugarcrepe/{subset}/acc"] = bench[np.asarray(subsets) == subset].mean()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    rows = [
        {
            "bin": b,
            "count": len(part),
            "pmi_mean": mean,
            "accuracy": part.mean(),
            "ci_low": 0.0,
            "ci_high": 1.0,
        }
        for b, (part, mean) in enumerate([(zs[:3], 1.0), (zs[3:7], 4.5)])
    ]
    (folder / "bins.json").write_text(json.dumps({"set": {"bins": rows, "never_together": None}}))
    return str(folder)


PMI = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None]  # the last item has no PMI: out of the tails
SUBSETS = ["swap_att"] * 4 + ["swap_obj"] * 4 + ["replace_rel"] * 4


def test_stratified_bootstrap_by_hand():
    estimate, low, high = stratified_bootstrap([np.ones(5), np.zeros(3)], [1.0, -1.0], StatsConfig())
    assert (estimate, low, high) == (1.0, 1.0, 1.0)
    values = np.r_[np.zeros(50), np.ones(50)]
    estimate, low, high = stratified_bootstrap([values], [0.5], StatsConfig(n_boot=400, seed=1))
    assert estimate == 0.25 and 0.15 < low < 0.25 < high < 0.35
    again = stratified_bootstrap([values], [0.5], StatsConfig(n_boot=400, seed=1))
    assert again == (estimate, low, high)
    with pytest.raises(ValueError, match="stratum"):
        stratified_bootstrap([values, np.array([])], [1.0, 1.0], StatsConfig())


def test_stratified_bootstrap_draws_the_same_in_chunks(monkeypatch):
    strata, config = [np.arange(7.0), np.arange(13.0) % 2], StatsConfig(n_boot=50, seed=2)
    whole = stratified_bootstrap(strata, [1.0, -1.0], config)
    monkeypatch.setattr(stats, "RESAMPLE_CHUNK", 20)  # 2 or 1 resamples per draw
    assert stratified_bootstrap(strata, [1.0, -1.0], config) == whole


def test_paired_changes_of_accuracy_gap_and_family(tmp_path):
    # base: wrong on the two lowest-PMI items (gap 1.0), on half of swap_att and all replace_rel
    base = write_report(
        tmp_path / "base", [0, 0, 1, 1, 1, 1, 1, 1], PMI, SUBSETS, [0, 0, 1, 1] + [1] * 4 + [0] * 4
    )
    tuned = write_report(tmp_path / "tuned", [1] * 8, PMI, SUBSETS, [1] * 12)
    result = compare({"base": base, "tuned": tuned}, str(tmp_path / "out"))
    paired = result["paired"]["tuned"]
    assert paired["zeroshot/set/acc"]["change"] == pytest.approx(0.25)
    assert paired["zeroshot/set/single_object/acc"] == {"change": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 2}
    assert paired["zeroshot/set/gap"] == {"change": -1.0, "ci_low": -1.0, "ci_high": -1.0, "n": 4}
    assert result["delta"]["tuned"]["zeroshot/set/gap"] == pytest.approx(-1.0)
    assert paired["sugarcrepe/swap_obj/acc"] == {"change": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 4}
    assert paired["sugarcrepe/replace_rel/acc"]["ci_low"] == 1.0
    swap = paired["compositional/swap/mean_acc"]  # (0.5 + 0) / 2, resampled within each subset
    assert swap["change"] == pytest.approx(0.25) and swap["n"] == 8
    assert 0.0 <= swap["ci_low"] <= 0.25 <= swap["ci_high"] <= 0.5
    assert swap["change"] == pytest.approx(result["delta"]["tuned"]["compositional/swap/mean_acc"])
    table = (tmp_path / "out" / "compare.md").read_text()
    assert "| zeroshot/set/gap | 1.000 | 0.000 (-1.000 [-1.000, -1.000]) |" in table
    assert json.loads((tmp_path / "out" / "compare.json").read_text())["paired"] == result["paired"]


def test_reports_of_different_items_are_compared_without_a_paired_ci(tmp_path):
    base = write_report(tmp_path / "base", [1] * 8, PMI, SUBSETS, [1] * 12)
    other = write_report(tmp_path / "other", [1] * 8, PMI, SUBSETS, [1] * 12, ids=[f"y{i}" for i in range(8)])
    result = compare({"base": base, "other": other}, str(tmp_path / "out"))
    assert "zeroshot/set/acc" not in result["paired"]["other"]
    assert result["delta"]["other"]["zeroshot/set/acc"] == 0.0
    assert result["paired"]["other"]["sugarcrepe/swap_att/acc"]["change"] == 0.0  # same benchmark ids


def test_compare_needs_two_reports_with_metrics(tmp_path):
    with pytest.raises(UserError, match="at least two"):
        compare({"base": str(tmp_path)}, str(tmp_path / "out"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="no metrics"):
        compare({"a": str(tmp_path / "a"), "b": str(tmp_path / "b")}, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_cli_sets_the_bootstrap_and_refuses_a_bad_level(tmp_path, capsys):
    base = write_report(tmp_path / "base", [0, 1] * 4, PMI, SUBSETS, [0, 1] * 6)
    tuned = write_report(tmp_path / "tuned", [1] * 8, PMI, SUBSETS, [1] * 12)
    out = tmp_path / "out"
    assert main(["compare", f"base={base}", f"tuned={tuned}", "--out", str(out), "--ci", "0.5"]) == 0
    result = json.loads((out / "compare.json").read_text())
    narrow = result["paired"]["tuned"]["zeroshot/set/acc"]
    assert result["ci"] == 0.5 and "50% paired bootstrap CI" in capsys.readouterr().out
    assert main(["compare", str(base), str(tuned), "--out", str(out), "--ci", "0.99"]) == 0
    wide = json.loads((out / "compare.json").read_text())["paired"]["tuned"]["zeroshot/set/acc"]
    assert wide["ci_low"] <= narrow["ci_low"] <= narrow["ci_high"] <= wide["ci_high"]
    assert wide["ci_high"] - wide["ci_low"] > narrow["ci_high"] - narrow["ci_low"]
    assert main(["compare", str(base), str(tuned), "--out", str(out), "--ci", "1.5"]) == 2
    assert "ci: must be in (0, 1), got 1.5" in capsys.readouterr().err


def test_compare_reports_sizes_and_an_html_report_that_leads_with_the_changes(tmp_path):
    base = write_report(tmp_path / "base", [0, 0, 1, 1, 1, 1, 1, 1], PMI, SUBSETS, [0] * 12, dropped=0.004)
    tuned = write_report(tmp_path / "tuned", [1] * 8, PMI, SUBSETS, [1] * 12, dropped=0.004)
    result = compare({"base": base, "tuned": tuned}, str(tmp_path / "out"))
    assert result["data"]["base"]["sugarcrepe"] == {"n": 12, "dropped_share": 0.004}
    table = (tmp_path / "out" / "compare.md").read_text()
    assert (
        "| sugarcrepe | 12 (0.4%) | 12 (0.4%) |" in table
        and "| zeroshot/set | 8 (0.0%) | 8 (0.0%) |" in table
    )
    page = (tmp_path / "out" / "compare.html").read_text()
    plots = sorted(p.name for p in (tmp_path / "out" / "plots").iterdir())
    assert plots == ["forest.png", "zeroshot_set_pmi.png"]
    for plot in plots:
        assert base64.b64encode((tmp_path / "out" / "plots" / plot).read_bytes()).decode() in page
    # the changes come first, the full table after the plots
    assert page.index("+1.000 [+1.000, +1.000]") < page.index("forest") < page.index("All compared metrics")
    headline = compare_headline(result)
    assert headline["tuned/swap/change"] == 1.0 and headline["tuned/swap/ci_low"] == 1.0
    assert headline["tuned/set/acc/change"] == pytest.approx(0.25) and "tuned/set/gap/ci_high" in headline
