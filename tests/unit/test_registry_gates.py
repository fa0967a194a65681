"""Promotion gates over hand-built comparisons: each gate passes and fails on its own numbers."""

import pytest

from compclip.errors import UserError
from compclip.registry.gates import GatesConfig, candidate_of, evaluate_gates, failures


def comparison(family_lows=None, zeroshot=(0.80, 0.80), gaps=(0.30, 0.20), paired_zeroshot=None):
    """base vs tuned on one zero-shot set and the families given as ``{family: ci_low}``."""
    family_lows = {"swap": 0.05, "replace": 0.02} if family_lows is None else family_lows
    paired = {
        f"compositional/{f}/mean_acc": {"change": low + 0.03, "ci_low": low, "ci_high": low + 0.06, "n": 400}
        for f, low in family_lows.items()
    }
    if paired_zeroshot is not None:
        paired["zeroshot/set/acc"] = {
            "change": paired_zeroshot,
            "ci_low": -1,
            "ci_high": 1,
            "n": 9,
            "dropped": 0,
        }
    return {
        "baseline": "base",
        "ci": 0.95,
        "metrics": {
            "base": {"zeroshot/set/acc": zeroshot[0], "zeroshot/set/gap": gaps[0], "n_items": 9},
            "tuned": {"zeroshot/set/acc": zeroshot[1], "zeroshot/set/gap": gaps[1]},
        },
        "delta": {"tuned": {"zeroshot/set/acc": zeroshot[1] - zeroshot[0]}},
        "paired": {"tuned": paired},
        "extra_section": {"ignored": True},
    }


def by_name(results):
    return {r.name: r for r in results}


def test_every_gate_passes_on_a_better_model():
    results = evaluate_gates(comparison(), "tuned", GatesConfig())
    assert [r.name for r in results] == [
        "compositional/replace",
        "compositional/swap",
        "zeroshot/set",
        "pmi_gap/set",
    ]
    assert failures(results) == []
    assert by_name(results)["compositional/swap"].observed["ci_low"] == 0.05


def test_family_lower_bound_must_clear_the_margin():
    results = by_name(evaluate_gates(comparison(), "tuned", GatesConfig(margin=0.03)))
    assert results["compositional/swap"].passed
    replace = results["compositional/replace"]
    assert not replace.passed and replace.threshold == 0.03 and replace.observed["ci_low"] == 0.02
    assert (
        "FAIL" in replace.describe()
        and "ci_low +0.0200" in replace.describe()
        and "+0.0300" in replace.describe()
    )
    assert not by_name(evaluate_gates(comparison({"swap": -0.01}), "tuned", GatesConfig()))[
        "compositional/swap"
    ].passed


def test_missing_evidence_fails():
    required = by_name(
        evaluate_gates(comparison({"swap": 0.1}), "tuned", GatesConfig(families=("swap", "add")))
    )
    assert required["compositional/swap"].passed
    assert (
        not required["compositional/add"].passed and required["compositional/add"].observed["ci_low"] is None
    )
    assert "missing" in required["compositional/add"].describe()
    nothing = by_name(evaluate_gates(comparison({}), "tuned", GatesConfig()))
    assert not nothing["compositional"].passed
    no_zeroshot = comparison()
    no_zeroshot["metrics"] = {"base": {}, "tuned": {}}
    assert not by_name(evaluate_gates(no_zeroshot, "tuned", GatesConfig()))["zeroshot"].passed


def test_zeroshot_tolerance_uses_the_paired_change_else_the_difference():
    config = GatesConfig(zeroshot_tolerance=0.02)
    assert by_name(evaluate_gates(comparison(zeroshot=(0.80, 0.79)), "tuned", config))["zeroshot/set"].passed
    dropped = by_name(evaluate_gates(comparison(zeroshot=(0.80, 0.77)), "tuned", config))["zeroshot/set"]
    assert not dropped.passed and dropped.observed["change"] == pytest.approx(-0.03)
    paired = comparison(zeroshot=(0.80, 0.80), paired_zeroshot=-0.05)
    assert not by_name(evaluate_gates(paired, "tuned", config))["zeroshot/set"].passed


@pytest.mark.parametrize(
    ("gaps", "tolerance", "passed"),
    [
        ((0.30, 0.20), 0.0, True),
        ((0.30, 0.35), 0.0, False),
        ((0.30, 0.35), 0.1, True),
        ((0.30, -0.35), 0.0, False),
    ],
)
def test_pmi_gap_may_not_widen_in_magnitude(gaps, tolerance, passed):
    gate = by_name(evaluate_gates(comparison(gaps=gaps), "tuned", GatesConfig(gap_tolerance=tolerance)))[
        "pmi_gap/set"
    ]
    assert gate.passed is passed
    assert gate.observed["widening"] == pytest.approx(abs(gaps[1]) - abs(gaps[0]))


def test_pmi_gap_gates_only_the_sets_the_base_has_a_gap_of():
    compared = comparison()
    compared["metrics"]["base"]["zeroshot/single/acc"] = 0.9  # single-object scenes: no PMI, no gap
    compared["metrics"]["tuned"]["zeroshot/single/acc"] = 0.9
    results = by_name(evaluate_gates(compared, "tuned", GatesConfig()))
    assert "pmi_gap/single" not in results and results["zeroshot/single"].passed
    del compared["metrics"]["tuned"]["zeroshot/set/gap"]  # the tuned report lost a gap the base has
    assert not by_name(evaluate_gates(compared, "tuned", GatesConfig()))["pmi_gap/set"].passed


def test_candidate_of():
    assert candidate_of(comparison()) == "tuned"
    several = comparison()
    several["metrics"]["negclip"] = {}
    with pytest.raises(UserError, match="--candidate"):
        candidate_of(several)
    assert candidate_of(several, "negclip") == "negclip"
    with pytest.raises(UserError, match="not a compared model"):
        candidate_of(several, "base")
