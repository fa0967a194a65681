"""GenPairs' pure parts: class names, the released code's validity rules (head-noun PMI, class words
excluded, the POS filter), pair PMI and strata, the caption filter, the pairs file."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from compclip.cli import main
from compclip.errors import UserError
from compclip.evalsets.generated import sum_metrics
from compclip.genpairs.captions import caption_problem, class_heads
from compclip.genpairs.pairs import Pair, SelectConfig, pmi_row, read_pairs, select_pairs, selection
from compclip.genpairs.vocabulary import (
    CandidateRules,
    candidate_concepts,
    class_concepts,
    class_lines,
    class_words,
    is_nameable,
    passes_pos_filter,
    read_classes,
)
from compclip.pmi import PMITable
from compclip.pmi.pairs import tri_index
from compclip.pmi.table import write_table
from compclip.rejects import Rejects

CONCEPTS = ["ball", "beach", "car", "dog", "grass", "red", "shark", "sport", "white"]


@pytest.fixture(scope="module")
def table_dir(tmp_path_factory):
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
    return folder


@pytest.fixture(scope="module")
def table(table_dir):
    return PMITable.load(table_dir)


def test_imagenet_class_names_ship_in_class_index_order():
    lines = class_lines()
    assert len(lines) == 1000 and lines[0] == "tench" and lines[-1] == "toilet paper"
    names = read_classes()
    assert len(names) == 998 and len(set(names)) == 998  # 'missile' and 'sunglasses' occur twice


def test_classes_file_and_class_concepts(tmp_path, table):
    (tmp_path / "c.txt").write_text("# comment\nsports cars\n\ngreat white sharks\nunicorn\nsports cars\n")
    names = read_classes(str(tmp_path / "c.txt"))
    rejects = Rejects()
    found = class_concepts(names, table, rejects, by="mean")
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
    classes = class_concepts(["dog", "sports car", "white shark"], table, Rejects(), by="mean")
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


def test_caption_filter_needs_every_class_concept_and_the_other_and_no_other_class(table):
    pair = Pair("p", "sports car", "beach", 0.0, 1)
    heads = class_heads(["sports car", "dog", "white shark"], table)
    assert heads == {"car", "dog", "shark"}
    assert caption_problem("A red sports car parked by the beach.", pair, table, heads) is None
    assert caption_problem("Two cars at the beaches", pair, table, heads) == "caption_missing_class"
    assert caption_problem("A sports car on a road", pair, table, heads) == "caption_missing_concept"
    assert caption_problem("  ", pair, table, heads) == "caption_empty"
    # another class's head noun in the picture: the released code drops the caption
    assert caption_problem("A sports car and a dog on the beach", pair, table, heads) == "caption_other_class"
    assert caption_problem("A sports car and a dog on the beach", pair, table) is None


def test_a_class_is_scored_by_its_head_noun(table):
    """PMI(class, concept) is the head noun's PMI with the concept, not a mean over the name that
    a modifier ("white") can sink to -inf."""
    (shark,) = class_concepts(["white shark"], table, Rejects())
    assert shark.concepts == ("shark",)
    (car,) = class_concepts(["sports car"], table, Rejects())
    pairs = select_pairs(table, [shark, car], ["beach", "red", "ball"], n_strata=2, per_stratum=10, seed=0)
    found = {(p.label, p.concept): p.pmi for p in pairs}
    assert found[("white shark", "beach")] == pytest.approx(table.pmi("shark", "beach"))
    assert found[("sports car", "red")] == pytest.approx(table.pmi("car", "red"))
    assert math.isinf(table.pmi("sport", "red")) and math.isfinite(found[("sports car", "red")])
    assert math.isinf(found[("white shark", "red")])  # shark and red never co-occur
    with pytest.raises(UserError, match="class_pmi"):
        class_concepts(["dog"], table, Rejects(), by="last")


def test_no_partner_is_a_word_of_any_class_name(table):
    """A partner that names (part of) another class puts two classes in the picture: left out."""
    names = ["dog", "sports car", "white shark"]
    excluded = class_words(names, table)
    assert excluded == {"dog", "sport", "car", "white", "shark"}
    rejects = Rejects()
    rules = CandidateRules(min_count=0)
    kept = candidate_concepts(table.names, list(table.counts), rules, excluded, rejects)
    assert set(kept) == {"ball", "beach", "grass", "red"} and rejects.counts["concept_is_class_word"] == 5
    rules = CandidateRules(min_count=0, exclude_class_words=False)
    everything = candidate_concepts(table.names, list(table.counts), rules, excluded, Rejects())
    assert {"dog", "white"} <= set(everything)


def test_partners_pass_the_released_pos_filter():
    """Nouns and adjectives to NLTK's tagger, known to WordNet, without digits or 'photo'/'image'."""
    for word in ("dog", "beach", "red", "wooden"):
        assert passes_pos_filter(word), word
    for word in ("two", "standing", "wearing", "near", "the", "3d", "photo", "images", "xqzt"):
        assert not passes_pos_filter(word), word
    assert not passes_pos_filter("red", adjectives=False) and passes_pos_filter("dog", adjectives=False)
    rejects = Rejects()
    words = ["dog", "two", "standing", "idea"]
    kept = candidate_concepts(words, [200] * 4, CandidateRules(), frozenset(), rejects)
    assert kept == ["dog", "idea"] and rejects.counts["concept_fails_pos_filter"] == 2
    physical = candidate_concepts(
        words, [200] * 4, CandidateRules(physical_only=True), frozenset(), Rejects()
    )
    assert physical == ["dog"]


def test_the_pairs_command_writes_the_selection_with_its_header(table_dir, table, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("dog\nsports car\nwhite shark\n")
    params = tmp_path / "params.yaml"
    params.write_text("genpairs:\n  select: {n_strata: 2, candidates: {min_count: 0}}\n")
    out = tmp_path / "pairs.parquet"
    argv = ["genpairs", "pairs", "--pmi", str(table_dir), "--out", str(out), "--classes", str(classes)]
    assert main([*argv, "--per-stratum", "2", "--params", str(params)]) == 0
    pairs, frame, header = read_pairs(str(out))
    config = SelectConfig(
        classes=str(classes), per_stratum=2, n_strata=2, candidates=CandidateRules(min_count=0)
    )
    expected = selection(table, config, str(table_dir))
    assert pairs == expected.pairs and frame.num_rows == len(pairs) > 0
    assert header["classes"] == ["dog", "sports car", "white shark"] and header["strata"]
    assert header["selection"]["rejects"]["concept_is_class_word"] == 5
    assert {p.concept for p in pairs} <= {"ball", "beach", "grass", "red"}
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(UserError, match="not a Parquet file"):
        read_pairs(str(tmp_path / "bad.parquet"))


def test_sum_metrics_adds_numbers_and_keeps_agreeing_values():
    assert sum_metrics([{"n": 2, "rejects/a": 1, "kind": "x"}, {"n": 3, "kind": "x", "rejects/b": 4}]) == {
        "n": 5, "rejects/a": 1, "kind": "x", "rejects/b": 4}  # fmt: skip
    assert "kind" not in sum_metrics([{"kind": "x"}, {"kind": "y"}])
