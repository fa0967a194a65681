"""Concept extraction: the paper's rules on hand-checked captions, and the fast path against the reference."""

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compclip.pmi.concepts import ConceptRules, tokenize
from compclip.pmi.encode import ConceptEncoder

_RULES = ConceptRules()


@pytest.fixture(scope="module")
def rules():
    return _RULES


def test_tokenize_replaces_non_word_runs_and_underscores():
    assert tokenize("A dog's TOY_box, (2 cats)!") == ["a", "dog", "s", "toy", "box", "2", "cats"]


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Two dogs are playing with a frisbee.", ["two", "dog", "playing", "frisbee"]),
        ("The geese and the goose", ["goose"]),  # lemmatized, then kept once
        ("A man with 3 dogs in 2020", ["man", "dog"]),  # numeric tokens dropped
        ("x y z a b", []),  # one-character tokens and stopwords
        ("Give us glasses", ["give", "u", "glass"]),  # filters run before lemmatizing: us -> u
        ("the of and", []),  # all stopwords: no concepts (the caption still counts in N)
        ("café naïve 4k ²", ["café", "naïve", "4k"]),  # unicode words; '²' is numeric
    ],
)
def test_concepts_hand_checked(rules, caption, expected):
    assert rules.concepts(caption) == expected


def _encode(rules, captions):
    encoder = ConceptEncoder(rules)
    encoded = encoder.encode(pa.array(captions, pa.string()))
    return [
        sorted(encoder.names[i] for i in encoded.ids[encoded.offsets[k] : encoded.offsets[k + 1]])
        for k in range(len(captions))
    ]


def test_fast_path_matches_reference_on_flickr8k(rules, flickr_captions):
    captions = [line.split("\t", 1)[1] for line in flickr_captions.read_text(encoding="utf-8").splitlines()]
    got = _encode(rules, captions)
    assert got == [sorted(rules.concepts(c)) for c in captions]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), min_size=1, max_size=8))
def test_fast_path_matches_reference_on_any_text(captions):
    assert _encode(_RULES, captions) == [sorted(_RULES.concepts(c)) for c in captions]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), min_size=1, max_size=8))
def test_fast_ascii_path_matches_reference(captions):
    assert _encode(_RULES, captions) == [sorted(_RULES.concepts(c)) for c in captions]


def test_provenance_records_stopwords_and_wordnet(rules):
    record = rules.provenance
    assert record["stopwords_count"] == 179
    assert record["wordnet_version"] == "3.0"
    assert len(record["stopwords_sha256"]) == 64
