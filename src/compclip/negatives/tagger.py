"""Parts of speech without a trained tagger: closed-class lists, WordNet sense counts, context rules.

No POS model is provisioned (NLTK's perceptron tagger is not), so a word's tag is decided by:

1. the closed-class lists of ``lexicon.yaml`` (determiners, numbers, prepositions, pronouns,
   conjunctions, auxiliaries, adverbs) and its list of words that are always adjectives;
2. otherwise WordNet: for each part of speech, the SemCor tag counts (``cntlist``) of the word's
   base forms, plus 0.5 when it has any sense there; the highest wins, ties go noun > adj > verb >
   adverb (most caption words that WordNet knows but SemCor never saw, like *frisbee*, are nouns);
3. context: a word that can be an adjective, is not mainly a verb form, and stands before a
   noun (or before "and" + adjective) is an adjective (*an orange vase*, *an orange and white
   cat*); a word that can be a noun and follows a determiner, number or adjective, and does not
   stand before a noun, is a noun (*a building*, *two stands*); after an auxiliary a verb form
   stays a verb (*is parked*); an *-ing* word after a noun is a verb (*a man skiing*).

Unknown words (not in WordNet) are tagged ``other`` and never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import yaml

from compclip.errors import UserError
from compclip.negatives.text import singular

FUNCTION_TAGS = (
    "determiner", "number", "preposition", "pronoun", "conjunction", "auxiliary", "adverb", "framing",
)  # fmt: skip
WORDNET_POS = {"noun": "n", "adj": "a", "verb": "v", "adv": "r"}
PRIOR = ("noun", "adj", "verb", "adv")
MODIFIER_CONTEXT = ("determiner", "number", "adj")


@dataclass(frozen=True)
class Lexicon:
    """Closed-class words and attribute classes (``lexicon.yaml``)."""

    function: dict[str, str]  # word -> closed class
    adjectives: frozenset[str]
    attributes: dict[str, tuple[str, ...]]  # class -> adjectives
    relations: dict[str, dict[str, tuple[tuple[str, ...], ...]]]  # group -> meaning -> phrases as words
    inverses: dict[str, str]  # relation meaning -> its opposite, both ways

    @classmethod
    @cache
    def load(cls) -> Lexicon:
        """The packaged lexicon, read once per process (a Lexicon is never changed)."""
        data = yaml.safe_load(resources.files(__package__).joinpath("lexicon.yaml").read_text())
        function: dict[str, str] = {}
        for tag in FUNCTION_TAGS:
            for word in data["function"][tag]:
                function.setdefault(word, tag)
        attributes = {name: tuple(words) for name, words in data["attributes"].items()}
        relations = {
            group: {meaning: tuple(tuple(p.split()) for p in said) for meaning, said in meanings.items()}
            for group, meanings in data["relations"].items()
        }
        inverses = {a: b for pair in data["inverses"] for a, b in (pair, pair[::-1])}
        return cls(function, frozenset(data["adjectives"]), attributes, relations, inverses)

    def attribute_class(self, adjective: str) -> str | None:
        return next((name for name, words in self.attributes.items() if adjective in words), None)

    @cached_property
    def relation_phrases(self) -> list[tuple[tuple[str, ...], str, str]]:
        """Every ``(phrase words, group, meaning)``, longest phrase first."""
        found = [
            (phrase, group, meaning)
            for group, meanings in self.relations.items()
            for meaning, phrases in meanings.items()
            for phrase in phrases
        ]
        return sorted(found, key=lambda row: -len(row[0]))

    def relation_spans(self, words: list[str]) -> list[tuple[int, int, str, str]]:
        """Non-overlapping ``(start, end, group, meaning)`` of the relation phrases in lowercase
        ``words``, longest match first, in caption order."""
        taken: set[int] = set()
        spans = []
        for phrase, group, meaning in self.relation_phrases:
            n = len(phrase)
            for start in range(len(words) - n + 1):
                span = set(range(start, start + n))
                if tuple(words[start : start + n]) == phrase and not span & taken:
                    taken |= span
                    spans.append((start, start + n, group, meaning))
        return sorted(spans)

    @cached_property
    def relation_words(self) -> frozenset[str]:
        """The words a relation change may touch: the relation phrases' and the prepositions."""
        words = {w for phrase, _, _ in self.relation_phrases for w in phrase}
        return frozenset(words | {w for w, tag in self.function.items() if tag == "preposition"})


class Tagger:
    """Tags caption words (lowercase) as a closed class, ``noun``, ``adj``, ``verb``, ``adv`` or ``other``."""

    def __init__(self, lexicon: Lexicon) -> None:
        try:
            from nltk.corpus import wordnet

            wordnet.ensure_loaded()
        except LookupError as err:
            raise UserError(
                "NLTK WordNet missing: run `make setup` or "
                "`python -m compclip.nltkdata --shared ../shared/nltk_data`"
            ) from err
        self.wordnet = wordnet
        self.lexicon = lexicon
        self.scores = cache(self._scores)

    def _scores(self, word: str) -> dict[str, float]:
        """WordNet evidence per part of speech: SemCor counts of the base forms, +0.5 for any sense."""
        found = {}
        for tag, pos in WORDNET_POS.items():
            total = 0.0
            for base in self.wordnet._morphy(word, pos):
                synsets = self.wordnet.synsets(base, pos)
                if synsets:
                    total = max(total, 0.5)
                total += sum(lem.count() for s in synsets for lem in s.lemmas() if lem.name().lower() == base)
            found[tag] = total
        return found

    @staticmethod
    def lemma(noun: str) -> str:
        return singular(noun)

    @staticmethod
    def is_plural(noun: str) -> bool:
        return singular(noun) != noun

    def base_tag(self, word: str) -> str:
        if not word.isalpha():
            return "number" if word.isdigit() else "other"
        if word in self.lexicon.function:
            return self.lexicon.function[word]
        if word in self.lexicon.adjectives:
            return "adj"
        scores = self.scores(word)
        best = max(PRIOR, key=lambda tag: (scores[tag], -PRIOR.index(tag)))
        return best if scores[best] > 0 else "other"

    def tag(self, words: list[str]) -> list[str]:
        """Tags for a caption's lowercase word tokens (punctuation tokens get ``punct``)."""
        base = [self.base_tag(w) if w[:1].isalnum() else "punct" for w in words]
        tags = list(base)
        for i, word in enumerate(words):
            if base[i] not in ("noun", "adj", "verb", "adv") or word in self.lexicon.adjectives:
                continue
            scores = self.scores(word)
            following = base[i + 1] if i + 1 < len(words) else ""
            following = "noun" if following == "framing" else following  # "a simple drawing"
            coordinated = following == "conjunction" and i + 2 < len(words) and base[i + 2] == "adj"
            after = tags[i - 1] if i else ""
            if after == "auxiliary" and scores["verb"] > 0 and base[i] != "noun":
                tags[i] = "adj" if base[i] == "adj" else "verb"
            elif (following == "noun" or coordinated) and scores["adj"] > 0 and base[i] != "verb":
                tags[i] = "adj"
            elif after in MODIFIER_CONTEXT and scores["noun"] > 0 and following != "noun":
                tags[i] = "noun"
            elif after == "noun" and word.endswith("ing") and scores["verb"] > 0:
                tags[i] = "verb"
        return tags
