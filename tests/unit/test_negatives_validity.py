"""The validity filter: every rejection reason, and the team's in-context examples pass it."""

from __future__ import annotations

import pytest

from compclip.negatives import TYPES, Examples, FilterConfig, ValidityFilter

ORIGINAL = "a red car next to a white dog"


@pytest.fixture(scope="module")
def validity() -> ValidityFilter:
    return ValidityFilter(FilterConfig(min_ratio=0.5, max_ratio=1.5))


@pytest.mark.parametrize(
    ("negative", "kind", "reason"),
    [
        ("  . ", "reshuffle", "empty"),
        ("A red car next to a white dog.", "swap_nouns", "unchanged"),
        ("a car", "replace_nouns", "too_short"),
        ("a red car next to a white dog and a blue bus near the old house", "replace_nouns", "too_long"),
        ("a white car next to a red cat", "swap_adjectives", "words_changed"),
        ("a dog next to a red white car", "reshuffle", None),
        ("a blue car next to a black dog", "replace_adjectives", "not_one_concept"),
        ("a red car next to a white", "replace_nouns", "not_one_concept"),
        ("a red car next to a white cat", "replace_nouns", None),
        ("an orange car next to a white dog", "replace_adjectives", None),
        ("a red car behind a white dog", "replace_relations", None),
        ("a red car to the left of a white dog", "replace_relations", None),
        ("the red car behind a white dog", "replace_relations", "not_a_relation"),
        ("a red car behind a white cat", "replace_relations", "not_a_relation"),
        ("a white dog next to a red car", "replace_relations", "not_a_relation"),
    ],
)
def test_reasons(validity, negative, kind, reason):
    assert validity.reason(ORIGINAL, negative, kind, set()) == reason


def test_inverse_relations_refused_when_turned_off():
    strict = ValidityFilter(FilterConfig(inverse_relations=False))
    original = "a red cube to the left of a blue ball, and a cup behind it"
    cases = {
        "a red cube to the right of a blue ball, and a cup behind it": "inverse_relation",
        "a red cube right of a blue ball, and a cup behind it": "inverse_relation",
        "a red cube above a blue ball, and a cup behind it": None,
        "a red cube to the left of a blue ball, and a cup in front of it": "inverse_relation",
        "a red cube to the left of a blue ball, and a cup beside it": None,
    }
    for negative, reason in cases.items():
        assert strict.reason(original, negative, "replace_relations", set()) == reason
        assert ValidityFilter().reason(original, negative, "replace_relations", set()) is None


def test_inversions_must_make_a_relation_its_opposite(validity):
    original = "a red cube to the left of a blue ball, and a cup behind it"
    cases = {
        "a red cube to the right of a blue ball, and a cup behind it": None,
        "a red cube to the left of a blue ball, and a cup in front of it": None,
        "a red cube above a blue ball, and a cup behind it": "not_inverted",
        "a red cube to the left of a blue ball, and a cup beside it": "not_inverted",
        "a blue cube to the right of a blue ball, and a cup behind it": "not_a_relation",
    }
    for negative, reason in cases.items():
        assert validity.reason(original, negative, "invert_relations", set()) == reason
    strict = ValidityFilter(FilterConfig(inverse_relations=False))  # that switch is for replaces only
    assert strict.reason(original, next(iter(cases)), "invert_relations", set()) is None


def test_swaps_compare_nouns_in_the_singular(validity):
    assert validity.reason("two dogs and a cat", "two cats and a dog", "swap_nouns", set()) is None


def test_duplicates_are_rejected_after_the_first(validity):
    kept: set = set()
    assert validity.reason(ORIGINAL, "a white car next to a red dog", "swap_adjectives", kept) is None
    assert validity.reason(ORIGINAL, "A white car next to a red dog.", "reshuffle", kept) == "duplicate"


def test_every_in_context_example_is_valid(validity):
    examples = Examples.load()
    for kind in TYPES:
        assert len(examples.pairs[kind]) >= 45
        for original, negative in examples.pairs[kind]:
            assert validity.reason(original, negative, kind, set()) is None, (kind, original, negative)
