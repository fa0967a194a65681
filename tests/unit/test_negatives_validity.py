"""The validity filter: every rejection reason, and the team's in-context examples pass it."""

from __future__ import annotations

import pytest

from compclip.negatives import TYPES, Examples, FilterConfig, ValidityFilter
from compclip.negatives.paraphrase import Paraphrases

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


@pytest.mark.parametrize(
    ("original", "negative", "kind", "reason"),
    [
        (
            "A white and brown dog runs .",
            "A brown and white dog runs .",
            "swap_adjectives",
            "coordination_reorder",
        ),
        (
            "A man and a woman sit on a bench",
            "A woman and a man sit on a bench",
            "swap_nouns",
            "coordination_reorder",
        ),
        ("a dog, a cat and a bird", "a cat, a dog and a bird", "reshuffle", "coordination_reorder"),
        (  # *each other* is symmetric, and *women* is *woman* misspelt: still the same two people
            "A man and a women standing next to each other .",
            "A woman and a man standing next to each other .",
            "swap_nouns",
            "coordination_reorder",
        ),
        (
            "A boy in a blue , yellow , and orange shirt",
            "A boy in an orange , yellow , and blue shirt",
            "swap_adjectives",
            "coordination_reorder",
        ),
        (
            "Two dogs , one brown , the other black",
            "Two dogs , one black , the other brown",
            "swap_adjectives",
            None,
        ),
        (
            "A black dog and a white dog",
            "A white dog and a black dog",
            "swap_adjectives",
            "coordination_reorder",
        ),
        ("Two men and a woman sit", "Two women and a man sit", "swap_nouns", None),  # numbers trade: false
        ("A cube and a ball over it", "A ball and a cube over it", "reshuffle", None),  # "it" says which
        ("a man in a yellow shirt", "a shirt in a yellow man", "swap_nouns", "colour_on_person"),
        ("a black man on a red bike", "a red man on a black bike", "swap_adjectives", "colour_on_person"),
        ("a man in a black shirt", "a man in a red shirt", "replace_adjectives", None),
        ("a large dog on the grass", "a huge dog on the grass", "replace_adjectives", "wordnet_related"),
        ("a full bus on the street", "a crowded bus on the street", "replace_adjectives", "near_synonym"),
        ("a tall man on the grass", "a short man on the grass", "replace_adjectives", None),
    ],
)
def test_still_true_swaps_and_replacements_are_refused(validity, original, negative, kind, reason):
    assert validity.reason(original, negative, kind, set()) == reason


def test_near_synonyms_by_how_captions_of_one_image_use_them():
    captions = [
        ("1", "a lady in a hat walks down the street"),
        ("1", "a woman in a cap walks down the road"),
        ("2", "a woman in a cap crosses the street"),
        ("2", "a lady in a hat crosses the road"),
        ("3", "a man and a woman on a bench"),
        ("3", "a woman sits beside a man"),
        ("4", "a man and a woman dance"),
        ("4", "a woman and a man dance"),
        ("5", "a dog on a sofa"),  # one caption of an image: no evidence
        ("6", "a cat on a sofa"),
    ]
    paraphrases = Paraphrases(captions)
    assert paraphrases.near("lady", "woman") and paraphrases.near("streets", "road")
    assert not paraphrases.near("man", "woman")  # both shown, in one caption too
    assert not paraphrases.near("dog", "cat")
    validity = ValidityFilter(paraphrases=paraphrases)
    reason = validity.reason("a man in a hat", "a man in a cap", "replace_nouns", set())
    assert reason == "near_synonym"  # WordNet does not relate them


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
