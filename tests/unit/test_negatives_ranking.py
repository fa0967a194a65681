"""Adversarial refinement: with a blind model, each type keeps its valid candidate whose fluency is
closest to the caption's, never a WordNet-related or misinflected one however fluent; the rules
propose every candidate they allow (``breadth``) for it to choose from."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from compclip.negatives import RuleGenerator, Rules, ValidityFilter, propose, select
from compclip.negatives.blind import BlindModel
from compclip.negatives.validity import FilterConfig

CAPTION = "A dog is running through the grass."
CAT = "A cat is running through the grass."  # valid, and the corpus says it nearly as often
GIRAFFE = "A giraffe is running through the grass."  # valid, rarer
ANIMAL = "An animal is running through the grass."  # as fluent as the caption, but a hypernym
CHILDS = "A childs is running through the grass."  # as fluent, but misinflected


@pytest.fixture(scope="module")
def blind() -> BlindModel:
    corpus = [
        *["a dog is running through the grass"] * 10,
        *["an animal is running through the grass"] * 10,
        *["a childs is running through the grass"] * 10,
        *["a cat is running through the grass"] * 4,
        "a giraffe is eating leaves",
    ]
    return BlindModel(corpus, order=3)


def test_the_closest_valid_candidate_is_kept_not_the_first(blind):
    ranked = ValidityFilter(FilterConfig(blind_margin=1.0), blind=blind)
    proposed = [GIRAFFE, ANIMAL, CHILDS, CAT]
    gaps = dict(zip(proposed, blind.gaps(CAPTION, proposed), strict=True))
    # the refused ones are closest to the caption, the giraffe farthest: ranking decides, not order
    assert abs(gaps[ANIMAL]) < abs(gaps[CAT]) and abs(gaps[CHILDS]) < abs(gaps[CAT]) < abs(gaps[GIRAFFE])
    assert ranked.rank(CAPTION, proposed)[-1] == GIRAFFE
    record, counts = select("1", CAPTION, {"replace_nouns": proposed}, ranked, 1)
    assert record.enhanced == [CAT]
    assert counts["reject_wordnet_related"] == 1 and counts["reject_misinflected"] == 1
    # without a blind model the first valid candidate is kept, as before
    first, _ = select("1", CAPTION, {"replace_nouns": proposed}, ValidityFilter(), 1)
    assert first.enhanced == [GIRAFFE]


def test_only_refused_candidates_leave_the_type_empty(blind):
    record, counts = select("1", CAPTION, {"replace_nouns": [ANIMAL, CHILDS]}, ValidityFilter(blind=blind), 1)
    assert record.enhanced == [] and counts["no_valid_replace_nouns"] == 1


def test_the_margin_still_refuses_what_text_gives_away(blind):
    record, counts = select("1", CAPTION, {"replace_nouns": [GIRAFFE]}, ValidityFilter(blind=blind), 1)
    assert (
        blind.gap(CAPTION, GIRAFFE) > 1.0 and record.enhanced == [] and counts["reject_blind_preferred"] == 1
    )


def test_the_stage_keeps_the_closest_of_all_valid_rule_candidates(flickr_captions):
    lines = flickr_captions.read_text().splitlines()[:3000]
    captions = [line.split("\t", 1)[1] for line in lines]
    validity = ValidityFilter(blind=BlindModel(captions[10:], order=3))
    unranked = ValidityFilter()
    rules = Rules(RuleGenerator(breadth=48), seed=0)
    chosen = propose([(str(i), c) for i, c in enumerate(captions[:3])], rules, validity, TYPES_CHECKED, 1)
    kept = 0
    for (record, _), caption in zip(chosen, captions[:3], strict=True):
        for kind in TYPES_CHECKED:
            (proposed,) = rules.generate([(record.image_id, caption, kind)])
            valid = [c for c in proposed if validity.reason(caption, c, kind, set()) is None]
            negatives = [n for n, k in zip(record.enhanced, record.types, strict=True) if k == kind]
            if not valid:
                continue
            kept += 1
            gaps = validity.blind.gaps(caption, valid)
            assert negatives == [valid[int(np.argmin(np.abs(gaps)))]], (caption, kind)
            assert unranked.reason(caption, negatives[0], kind, set()) is None
    assert kept >= 6


TYPES_CHECKED = ("swap_nouns", "replace_nouns", "replace_adjectives")


def test_breadth_proposes_every_candidate_the_rules_allow():
    narrow, wide = RuleGenerator(), RuleGenerator(breadth=200)
    caption = "A brown dog and a black cat on a red sofa near a window with a lamp."

    def found(rules, kind):
        return rules.candidates(caption, kind, np.random.default_rng(0))

    for kind in ("replace_nouns", "replace_adjectives", "reshuffle", "swap_nouns"):
        assert len(found(wide, kind)) > len(found(narrow, kind)), kind
    # replacements of every noun even under a small cap: the words take turns
    capped = RuleGenerator(breadth=10).candidates(caption, "replace_nouns", np.random.default_rng(0))
    words = caption.split()
    edited = {
        next(i for i, (a, b) in enumerate(zip(words, c.split(), strict=True)) if a != b) for c in capped
    }
    assert len(capped) == 10 and edited == {2, 6, 10, 13, 16}  # dog, cat, sofa, window, lamp
    # five noun phrases: every derangement of them (44), each moving every phrase; every noun pair
    derangements = [o for o in itertools.permutations(range(5)) if all(o[i] != i for i in range(5))]
    assert len(found(wide, "reshuffle")) == len(derangements)
    assert len(found(wide, "swap_nouns")) == 10
