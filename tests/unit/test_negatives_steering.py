"""PMI steering prefers replacement words that make low-PMI pairs with the rest of the caption."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np

from compclip.negatives import RuleGenerator, SteerConfig, Steering
from compclip.negatives.wordnet import co_hyponyms
from compclip.pmi.concepts import ConceptRules


class FakeTable:
    """The PMITable methods steering uses, over a hand-made table."""

    def __init__(self, pmi: dict[frozenset, float], counts: dict[str, int]) -> None:
        self._pmi, self._counts, self._rules = pmi, counts, ConceptRules()

    def pmi(self, c1: str, c2: str) -> float:
        if c1 not in self._counts or c2 not in self._counts:
            return math.nan
        return self._pmi.get(frozenset((c1, c2)), -math.inf)

    def count(self, c: str) -> int:
        return self._counts.get(c, 0)

    def concepts(self, text: str) -> list[str]:
        return self._rules.concepts(text)

    @property
    def names(self) -> list[str]:
        return list(self._counts)

    n_captions = 1000


TABLE = FakeTable(
    {
        frozenset(("cat", "frisbee")): 3.0,
        frozenset(("wolf", "frisbee")): -2.0,
        frozenset(("fox", "frisbee")): 0.5,
    },
    {"cat": 50, "wolf": 5, "fox": 8, "frisbee": 40, "dog": 60, "lion": 3},
)


def test_temperature_zero_picks_the_lowest_pmi():
    steering = Steering(TABLE, SteerConfig(temperature=0))
    got = steering.order(
        ["cat", "fox", "wolf", "lion"], "a dog catching a frisbee", "dog", np.random.default_rng(0)
    )
    # lion never co-occurs with frisbee (-inf -> floor), then wolf, fox, cat
    assert got == ["lion", "wolf", "fox", "cat"]


def test_out_of_vocabulary_candidates_are_dropped_when_others_are_known():
    steering = Steering(TABLE, SteerConfig(temperature=0))
    assert "zebu" not in steering.order(
        ["zebu", "cat"], "a dog and a frisbee", "dog", np.random.default_rng(0)
    )


def test_relation_phrases_keep_to_the_vocabulary():
    steering = Steering(FakeTable({}, {"right": 9, "side": 4}))
    phrases = ["atop", "on the right side of", "right of"]
    assert steering.known(phrases) == ["on the right side of", "right of"]
    assert steering.known(["atop", "astride"]) == ["atop", "astride"]  # none known: all stay
    rules = RuleGenerator(steering)
    for seed in range(5):
        found = rules.candidates("a cat below a dog", "replace_relations", np.random.default_rng(seed))
        upward = [c for c in found if "left" not in c and "right" not in c]
        # "above" and "over" have no concept the table lacks; "on top of", "atop", "higher than" do
        assert upward and all(c in ("a cat above a dog", "a cat over a dog") for c in upward)


def test_sampling_prefers_low_pmi():
    steering = Steering(TABLE, SteerConfig(temperature=1.0))
    firsts = Counter(
        steering.order(["cat", "fox", "wolf"], "a dog catching a frisbee", "dog", np.random.default_rng(s))[0]
        for s in range(300)
    )
    assert firsts["wolf"] > firsts["fox"] > firsts["cat"]


def test_rule_generator_steers_noun_replacements():
    rules = RuleGenerator(Steering(TABLE, SteerConfig(temperature=0)))
    assert {"cat", "wolf", "fox"} <= set(co_hyponyms("dog"))
    negatives = rules.candidates("a dog catching a frisbee", "replace_nouns", np.random.default_rng(0))
    plain = RuleGenerator().candidates("a dog catching a frisbee", "replace_nouns", np.random.default_rng(0))
    # "lion" is no WordNet sibling of "dog" but an animal of the table's vocabulary, never seen
    # with "frisbee" (PMI -inf, below wolf's -2)
    assert "lion" not in co_hyponyms("dog") and "lion" in rules.noun_pool("dog")
    assert negatives[:2] == ["a lion catching a frisbee", "a wolf catching a frisbee"]
    assert negatives != plain and not any("lion" in n for n in plain)


def test_noun_pools_are_the_same_in_every_process():
    """A lemma of several sibling synsets must not take its count from whichever the process's
    set order meets first: the pool (and so the negatives) would change with PYTHONHASHSEED."""
    script = "import json; from compclip.negatives.wordnet import co_hyponyms; "
    script += "print(json.dumps([co_hyponyms(w) for w in ('man', 'car', 'shirt', 'dog', 'street')]))"
    pools = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2)
    }
    assert len(pools) == 1 and all(json.loads(pools.pop()))
