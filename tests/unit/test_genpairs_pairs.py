"""GenPairs' pure parts: class names, WordNet candidates, pair PMI and strata, the caption filter, shards."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from compclip.errors import UserError
from compclip.evalsets.generated import sum_metrics
from compclip.genpairs.captions import caption_problem
from compclip.genpairs.pairs import Pair, pmi_row, select_pairs
from compclip.genpairs.vocabulary import class_concepts, class_lines, is_nameable, read_classes
from compclip.pmi import PMITable
from compclip.pmi.pairs import tri_index
from compclip.pmi.table import write_table
from compclip.rejects import Rejects

CONCEPTS = ["ball", "beach", "car", "dog", "grass", "red", "shark", "sport", "white"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Counts chosen so that PMI spans a range, with pairs that never co-occur."""
    folder = tmp_path_factory.mktemp("pmi")
    index = {c: i for i, c in enumerate(CONCEPTS)}
    together = {("dog", "ball"): 30, ("dog", "grass"): 20, ("dog", "beach"): 5, ("dog", "red"): 2,
                ("car", "red"): 25, ("car", "sport"): 15, ("car", "beach"): 1, ("shark", "white"): 12,
                ("shark", "beach"): 8, ("white", "beach"): 3, ("sport", "ball"): 10}  # fmt: skip
    keys, counts = [], []
    for (a, b), n in together.items():
        i, j = sorted((index[a], index[b]))
        keys.append(int(tri_index(np.array([i]), np.array([j]), len(CONCEPTS))[0]))
        counts.append(n)
    order = np.argsort(keys)
    header = {"mode": "exact", "smoothing": {"pair_k": 0.0}, "n_captions": 200}
    write_table(folder, CONCEPTS, np.array([60, 40, 50, 70, 30, 45, 20, 25, 35]), np.array(keys)[order],
                np.array(counts)[order], header)  # fmt: skip
    return PMITable.load(folder)


def test_imagenet_class_names_ship_in_class_index_order():
    lines = class_lines()
    assert len(lines) == 1000 and lines[0] == "tench" and lines[-1] == "toilet paper"
    names = read_classes()
    assert len(names) == 998 and len(set(names)) == 998  # 'missile' and 'sunglasses' occur twice


def test_classes_file_and_class_concepts(tmp_path, table):
    (tmp_path / "c.txt").write_text("# comment\nsports cars\n\ngreat white sharks\nunicorn\nsports cars\n")
    names = read_classes(str(tmp_path / "c.txt"))
    rejects = Rejects()
    found = class_concepts(names, table, rejects)
    assert names == ["sports cars", "great white sharks", "unicorn"]
    assert [(c.name, c.concepts) for c in found] == [("sports cars", ("sport", "car")),
                                                      ("great white sharks", ("white", "shark"))]  # fmt: skip
    assert rejects.as_dict() == {"class_not_in_pmi_vocabulary": 1}
    with pytest.raises(UserError, match="no class names"):
        read_classes(str(tmp_path / "c.txt") if (tmp_path / "c.txt").write_text("# only\n") else "")


def test_wordnet_keeps_physical_nouns_and_adjectives():
    assert is_nameable("dog") and is_nameable("beach") and is_nameable("red")
    assert not is_nameable("idea") and not is_nameable("happiness")
    assert is_nameable("wooden") and not is_nameable("wooden", adjectives=False)
    assert is_nameable("dog", adjectives=False)


def test_pmi_row_matches_the_table(table):
    others = np.array([table.index[c] for c in CONCEPTS if c != "dog"])
    row = pmi_row(table, table.index["dog"], others)
    expected = [table.pmi("dog", c) for c in CONCEPTS if c != "dog"]
    assert np.allclose(row[np.isfinite(row)], np.array(expected)[np.isfinite(expected)])
    assert (np.isneginf(row) == np.isneginf(expected)).all() and np.isneginf(row).any()


def test_pairs_are_spread_over_strata_and_exclude_the_class_own_concepts(table):
    classes = class_concepts(["dog", "sports car", "white shark"], table, Rejects())
    candidates = ["ball", "beach", "grass", "red", "white", "car"]
    pairs = select_pairs(table, classes, candidates, n_strata=3, per_stratum=2, seed=0)
    per_stratum = Counter(p.stratum for p in pairs)
    # never together (stratum 0) has many pairs; a finite stratum with one pair gives it once
    assert set(per_stratum) == {0, 1, 2, 3} and per_stratum[0] == 2 and set(per_stratum.values()) <= {1, 2}
    assert len({(p.label, p.concept) for p in pairs}) == len(pairs)
    assert [p.pair_id for p in pairs] == [f"pair-{k:06d}" for k in range(len(pairs))]
    for p in pairs:
        own = {"dog": {"dog"}, "sports car": {"sport", "car"}, "white shark": {"white", "shark"}}[p.label]
        assert p.concept not in own
        values = [table.pmi(c, p.concept) for c in own]
        assert (p.stratum == 0) == any(math.isinf(v) for v in values)
        assert p.pmi == pytest.approx(np.mean(values)) if p.stratum else math.isinf(p.pmi)
    assert select_pairs(table, classes, candidates, 3, 2, seed=0) == pairs
    assert select_pairs(table, classes, candidates, 3, 2, seed=1) != pairs


def test_caption_filter_needs_every_class_concept_and_the_other(table):
    pair = Pair("p", "sports car", "beach", 0.0, 1)
    assert caption_problem("A red sports car parked by the beach.", pair, table) is None
    assert caption_problem("Two cars at the beaches", pair, table) == "caption_missing_class"
    assert caption_problem("A sports car on a road", pair, table) == "caption_missing_concept"
    assert caption_problem("  ", pair, table) == "caption_empty"


def test_sum_metrics_adds_numbers_and_keeps_agreeing_values():
    assert sum_metrics([{"n": 2, "rejects/a": 1, "kind": "x"}, {"n": 3, "kind": "x", "rejects/b": 4}]) == {
        "n": 5, "rejects/a": 1, "kind": "x", "rejects/b": 4}  # fmt: skip
    assert "kind" not in sum_metrics([{"kind": "x"}, {"kind": "y"}])
