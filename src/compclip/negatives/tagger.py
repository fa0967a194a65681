"""Parts of speech of caption words: closed-class lists first, then NLTK's averaged perceptron.

A word's tag is decided by (a web address, or a capitalised proper noun mid-caption, is a
``name``, which no rule edits):

1. the closed-class lists of ``lexicon.yaml`` (determiners, numbers, prepositions, pronouns,
   conjunctions, auxiliaries, adverbs, framing nouns) and its list of words that are always
   adjectives (colours, sizes: the perceptron, trained on cased news text, reads a lowercase
   *pink* or *wooden* before a noun as a noun);
2. otherwise NLTK's averaged-perceptron tagger (Penn tags: ``NN*`` noun, ``JJ*`` adjective,
   ``VB*`` verb, ``RB*`` adverb, ``CD`` number), whose tags also give a noun's number (``NNS``)
   and a verb's (``VBZ``/``VBP``);
3. three context rules: a singular noun before a noun that WordNet also knows as an adjective is
   an adjective (*an orange vase*, *a grassy plain*; *a dirt road* stays a noun); an *-ing* noun
   after a noun that WordNet also knows as a verb is a verb (*a man skiing*); a noun after a
   person or an animal, before a preposition, a determiner or the end, that WordNet counts more
   often as a verb is one (*a dog runs on the grass*, *a white dog play in the snow*).

On SugarCrepe's one-word replacements this tags 89.6% of the changed words as their subset says
(attribute: adjective, object: noun), against 87.4% for the earlier WordNet-and-context-rules
tagger and 86.6% for the perceptron alone (``bench/negatives_tagger.py``, BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

import yaml

from compclip import nltkdata
from compclip.negatives.inflection import noun_lemma
from compclip.negatives.text import POSSESSIVES
from compclip.negatives.wordnet import animate

FUNCTION_TAGS = (
    "determiner", "number", "preposition", "pronoun", "conjunction", "auxiliary", "adverb", "framing",
)  # fmt: skip
WORDNET_POS = {"noun": "n", "adj": "a", "verb": "v", "adv": "r"}
PRIOR = ("noun", "adj", "verb", "adv")
SUBJECT_ENDS = ("preposition", "determiner", "punct", "adverb")  # what may follow a verb without an object
PENN = {"NN": "noun", "JJ": "adj", "VB": "verb", "RB": "adv", "CD": "number", "MD": "auxiliary"}


@dataclass(frozen=True)
class Lexicon:
    """Closed-class words and attribute classes (``lexicon.yaml``)."""

    function: dict[str, str]  # word -> closed class
    adjectives: frozenset[str]
    attributes: dict[str, dict[str, tuple[str, ...]]]  # axis -> pole -> adjectives that say the same
    relations: dict[str, dict[str, tuple[tuple[str, ...], ...]]]  # group -> meaning -> phrases as words
    inverses: dict[str, str]  # relation meaning -> its opposite, both ways
    alone: frozenset[str]  # relation phrases that read right without an object ("standing outside")
    plural_only: frozenset[str]  # nouns only in the plural (*pants*)

    @classmethod
    @cache
    def load(cls) -> Lexicon:
        """The packaged lexicon, read once per process (a Lexicon is never changed)."""
        data = yaml.safe_load(resources.files(__package__).joinpath("lexicon.yaml").read_text())
        function: dict[str, str] = {}
        for tag in FUNCTION_TAGS:
            for word in data["function"][tag]:
                function.setdefault(word, tag)
        attributes = {
            axis: {pole: tuple(words) for pole, words in poles.items()}
            for axis, poles in data["attributes"].items()
        }
        relations = {
            group: {meaning: tuple(tuple(p.split()) for p in said) for meaning, said in meanings.items()}
            for group, meanings in data["relations"].items()
        }
        inverses = {a: b for pair in data["inverses"] for a, b in (pair, pair[::-1])}
        alone = frozenset(data["alone"])
        plural_only = frozenset(data["plural_only"])
        return cls(
            function, frozenset(data["adjectives"]), attributes, relations, inverses, alone, plural_only
        )

    def attribute_class(self, adjective: str) -> str | None:
        """The first axis holding ``adjective`` (colour, size, ...), None when none does."""
        return self._axis_of.get(adjective)

    @cached_property
    def _axis_of(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for axis in self.attributes:
            for word in self.words(axis):
                found.setdefault(word, axis)
        return found

    def words(self, axis: str) -> tuple[str, ...]:
        """Every adjective of an axis, pole after pole."""
        return self._words[axis]

    @cached_property
    def _words(self) -> dict[str, tuple[str, ...]]:
        return {
            axis: tuple(w for words in poles.values() for w in words)
            for axis, poles in self.attributes.items()
        }

    def opposites(self, adjective: str) -> tuple[str, ...]:
        """The adjectives of the other poles of every axis holding ``adjective`` (*tall* -> *short*,
        *low*; *short* -> *tall*, *high*, *long*), none of a pole it is on."""
        same = {
            w
            for poles in self.attributes.values()
            for words in poles.values()
            if adjective in words
            for w in words
        }
        found = [
            w
            for poles in self.attributes.values()
            if any(adjective in words for words in poles.values())
            for words in poles.values()
            if adjective not in words
            for w in words
        ]
        return tuple(dict.fromkeys(w for w in found if w not in same))

    def same_pole(self, a: str, b: str) -> bool:
        """Whether two adjectives are on one pole of an axis (*big*, *large*): they say the same."""
        return any(
            a in words and b in words for poles in self.attributes.values() for words in poles.values()
        )

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
        self.wordnet = nltkdata.wordnet()
        self.perceptron = nltkdata.perceptron()
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

    def penn(self, words: list[str]) -> list[str]:
        """The perceptron's Penn tags for a caption's word tokens (surface case)."""
        return [tag for _, tag in self.perceptron.tag(words)]

    def base_tag(self, word: str) -> str:
        """A lone word's tag: its closed class, else WordNet's most frequent part of speech."""
        if not word.isalpha():
            return "number" if word.isdigit() else "other"
        if word in self.lexicon.function:
            return self.lexicon.function[word]
        if word in self.lexicon.adjectives:
            return "adj"
        scores = self.scores(word)
        best = max(PRIOR, key=lambda tag: (scores[tag], -PRIOR.index(tag)))
        return best if scores[best] > 0 else "other"

    def tag(self, words: list[str], penn: list[str] | None = None) -> list[str]:
        """Tags for a caption's word tokens (punctuation tokens get ``punct``); ``penn``: their Penn tags."""
        penn = penn or self.penn(words)
        tags = []
        for i, (surface, tag) in enumerate(zip(words, penn, strict=True)):
            word = surface.lower()
            if word in POSSESSIVES:
                tags.append("possessive")  # split off its noun: *a man 's shirt*
            elif not word[:1].isalnum():
                tags.append("punct")
            elif "." in word or "/" in word or (i and tag.startswith("NNP") and surface[:1].isupper()):
                tags.append("name")  # a web address or a proper noun: never edited
            elif word in self.lexicon.function or word in self.lexicon.adjectives:
                tags.append(self.base_tag(word))
            else:
                tags.append(PENN.get(tag[:2], "other"))
        lower = [w.lower() for w in words]
        for i, word in enumerate(lower):
            if tags[i] == "noun" and penn[i] in ("NNS", "NN") and self._acts(lower, tags, i):
                tags[i] = "verb"
                continue
            if penn[i] != "NN" or tags[i] != "noun":
                continue
            if i + 1 < len(tags) and tags[i + 1] == "noun" and self.scores(word)["adj"] > 0:
                tags[i] = "adj"
            elif i and tags[i - 1] == "noun" and word.endswith("ing") and self.scores(word)["verb"] > 0:
                tags[i] = "verb"
        return tags

    def _acts(self, words: list[str], tags: list[str], i: int) -> bool:
        """Whether the noun at ``i`` is a verb whose subject is the person or animal before it
        (*a white dog play in the snow*, *a dog runs on the grass*): more often a verb than a noun
        in WordNet, before a preposition, determiner or the end."""
        if i == 0 or tags[i - 1] != "noun" or (i + 1 < len(tags) and tags[i + 1] not in SUBJECT_ENDS):
            return False
        scores = self.scores(words[i])
        return scores["verb"] > scores["noun"] and animate(noun_lemma(words[i - 1]))
