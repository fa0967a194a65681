"""The validity filter: which candidate negatives are kept, and why the others are not.

A candidate is rejected, under the first reason that applies, when it is

- ``empty``: no words;
- ``unchanged``: the same words in the same order as the original (case, punctuation and
  ``a``/``an`` ignored);
- ``too_short`` / ``too_long``: its word count is outside ``[min_ratio, max_ratio]`` times the
  original's;
- ``words_changed``: a swap or reshuffle whose multiset of words differs from the original's
  (words compared uninflected, so *dogs* = *dog* and *is* = *are*; ``a``/``an`` as one word);
- ``coordination_reorder``: a swap or reshuffle that only trades the conjuncts of a coordination
  (*a white and brown dog* -> *a brown and white dog*, *a man and a woman* -> *a woman and a
  man*): still true;
- ``misinflected``: a new word that is a wrong form of a known noun (*womans*, *childs*), or a
  new number-noun pair that disagrees (*two suitcase*, *a giant people*);
- ``colour_on_person``: a colour that comes to modify a person (*a man in a yellow shirt* -> *a
  shirt in a yellow man*): colours in captions are clothes', not people's;
- ``not_one_concept``: a replace that does not remove exactly one concept and add exactly one
  (concepts by :class:`compclip.pmi.concepts.ConceptRules`, the PMI table's rules);
- ``wordnet_related``: a replace whose new concept WordNet relates to the old one (a synonym,
  hypernym, hyponym or similar adjective: :func:`compclip.negatives.wordnet.related`), so the
  negative may still be true (*a small child* -> *a tiny child*, *an airplane* -> *a jet*);
- ``near_synonym``: a replace whose new concept says the same as the old one by the lexicon (one
  pole of an attribute axis: *big*, *large*) or by how captions of one image use them
  (:class:`compclip.negatives.paraphrase.Paraphrases`, learnt with the blind model: *street* ->
  *road*, *lady* -> *woman*);
- ``not_a_relation``: a relation replace that changes a word outside the spatial relation
  phrases and prepositions of ``lexicon.yaml`` (the other words, in order, must stay);
- ``inverse_relation``: with ``inverse_relations`` off, a relation replace that makes a relation
  its opposite (*left of* -> *right of*: that is the ``invert_relations`` type's job);
- ``not_inverted``: a relation inversion that does not make a relation its opposite;
- ``blind_preferred``: with a blind model (:class:`compclip.negatives.blind.BlindModel`), the
  negative scores more than ``blind_margin`` nats below the original (every caption of its image
  left out of the model), so text alone gives it away;
- ``duplicate``: the same as a negative already kept for this caption.

With a blind model, :meth:`ValidityFilter.rank` orders a caption's candidates by how close their
fluency is to the caption's (``|gap|``, SugarCrepe's adversarial refinement): the stage checks
them in that order and keeps the first valid ones, so of several valid candidates the one text
alone can least tell from the caption is kept, rather than the first proposed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from compclip.config import Checked, Count, NonNegativeFloat, PositiveFloat, PositiveInt
from compclip.negatives.blind import BlindModel, Smoothing
from compclip.negatives.inflection import (
    PLURAL_NUMBERS,
    SINGULAR_DETERMINERS,
    base,
    misinflected,
    noun_lemma,
    noun_numbers,
)
from compclip.negatives.paraphrase import Paraphrases
from compclip.negatives.tagger import Lexicon
from compclip.negatives.text import normalize, tokens
from compclip.negatives.types import RELATIONS, REPLACES, SWAPS
from compclip.negatives.wordnet import adjective, compound, person, related
from compclip.pmi.concepts import ConceptRules

REASONS = (
    "empty", "unchanged", "too_short", "too_long", "words_changed", "coordination_reorder", "misinflected",
    "colour_on_person", "not_one_concept", "wordnet_related", "near_synonym", "not_a_relation",
    "inverse_relation", "not_inverted", "blind_preferred", "duplicate",
)  # fmt: skip
COORDINATORS = ("and", "or", ",")
BACK_REFERENCES = frozenset(("it", "them", "its", "former", "latter", "first", "second", "other"))
RECIPROCALS = frozenset((("each", "other"),))  # symmetric: no order to refer back to
MAX_CONJUNCT = 4  # words of a conjunct a reorder may trade


@dataclass(frozen=True)
class FilterConfig(Checked):
    min_ratio: NonNegativeFloat = 0.5  # shortest negative, as a share of the original's word count
    max_ratio: PositiveFloat = 1.5
    inverse_relations: bool = True  # False: a relation replace may not be the relation's opposite
    blind: bool = True  # refuse negatives a blind model (an n-gram LM of the input captions) gives away
    # a bigram: the input captions are often few for a trigram's counts (BENCHMARKS.md, "Hard negatives
    # on real captions")
    blind_order: PositiveInt = 2  # n of the blind model's n-grams
    # how its lower orders count: occurrences, or distinct preceding words (interpolated Kneser-Ney)
    blind_smoothing: Smoothing = "absolute"
    blind_margin: float = 0.0  # nats the kept negative may score below its original
    blind_min_captions: Count = 1000  # a smaller corpus trains no blind model (too few to judge fluency)


class ValidityFilter:
    def __init__(
        self,
        config: FilterConfig = FilterConfig(),
        rules: ConceptRules | None = None,
        lexicon: Lexicon | None = None,
        blind: BlindModel | None = None,
        paraphrases: Paraphrases | None = None,
    ) -> None:
        self.config = config
        self.rules = rules or ConceptRules()
        self.lexicon = lexicon or Lexicon.load()
        self.blind = blind
        self.paraphrases = paraphrases

    def reason(
        self, original: str, negative: str, kind: str, kept: set[tuple[str, ...]], image: str | None = None
    ) -> str | None:
        """Why ``negative`` is not a valid ``kind`` negative of ``original`` (None when it is).

        ``kept`` holds the normalised negatives already kept for this caption; a valid one is added.
        ``image``: the caption's image, whose captions the blind model leaves out.
        """
        before, after = normalize(original), normalize(negative)
        if not after:
            return "empty"
        if after == before:
            return "unchanged"
        if len(after) < self.config.min_ratio * len(before):
            return "too_short"
        if len(after) > self.config.max_ratio * len(before):
            return "too_long"
        if kind in SWAPS and self._bag(before) != self._bag(after):
            return "words_changed"
        if kind in SWAPS and coordination_reorder(original, negative):
            return "coordination_reorder"
        if self._misinflected(before, after):
            return "misinflected"
        if coloured_people(after, self.lexicon) - coloured_people(before, self.lexicon):
            return "colour_on_person"
        if kind in REPLACES:
            old, new = set(self.rules.concepts(original)), set(self.rules.concepts(negative))
            if len(old - new) != 1 or len(new - old) != 1:
                return "not_one_concept"
            (a,), (b,) = old - new, new - old
            kind_a = self.lexicon.attribute_class(a)
            if related(a, b, frozenset(self.lexicon.words(kind_a)) if kind_a else frozenset()):
                return "wordnet_related"
            if self.lexicon.same_pole(a, b) or (self.paraphrases is not None and self.paraphrases.near(a, b)):
                return "near_synonym"
        if kind in RELATIONS:
            if self._kept(before) != self._kept(after):
                return "not_a_relation"
            inverted = self._inverted(before, after)
            if kind == "replace_relations" and inverted and not self.config.inverse_relations:
                return "inverse_relation"
            if kind == "invert_relations" and not inverted:
                return "not_inverted"
        if self.blind is not None and self.blind_gap(original, negative, image) > self.config.blind_margin:
            return "blind_preferred"
        key = tuple(after)
        if key in kept:
            return "duplicate"
        kept.add(key)
        return None

    def rank(self, original: str, candidates: list[str], image: str | None = None) -> list[str]:
        """``candidates`` closest to ``original``'s blind-model fluency first (smallest ``|gap|``,
        ties in the given order; ``image``'s captions left out); as given without a blind model."""
        if self.blind is None or not self.config.blind or len(candidates) < 2:
            return candidates
        gaps = self.blind.gaps(original, candidates, image)
        return [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: abs(gaps[i]))]

    def _kept(self, words: list[str]) -> list[str]:
        return [w for w in words if w not in self.lexicon.relation_words]

    def _inverted(self, before: list[str], after: list[str]) -> bool:
        """Whether a relation of ``before`` became its opposite in ``after``."""
        old, new = ([m for *_, m in self.lexicon.relation_spans(w)] for w in (before, after))
        return any(b == self.lexicon.inverses.get(a) for a, b in zip(old, new, strict=False))

    def _bag(self, words: list[str]) -> Counter:
        return Counter(base(w) for w in words)

    def _misinflected(self, before: list[str], after: list[str]) -> bool:
        """A new wrong noun form, or a new number + noun pair whose numbers disagree (an adjective
        between them allowed: *a giant people*)."""
        if any(misinflected(w) for w in set(after) - set(before)):
            return True
        old = {tuple(before[i : i + n]) for n in (2, 3) for i in range(len(before))}
        for i, word in enumerate(after):
            if word not in PLURAL_NUMBERS and word not in SINGULAR_DETERMINERS:
                continue
            for j in range(i + 1, min(i + 3, len(after))):
                if is_adjective(after[j], self.lexicon):
                    continue
                if tuple(after[i : j + 1]) not in old:
                    numbers = noun_numbers(after[j])
                    if numbers and ("NN" if word in SINGULAR_DETERMINERS else "NNS") not in numbers:
                        return True
                break
        return False

    def blind_gap(self, original: str, negative: str, image: str | None = None) -> float:
        """How many nats the blind model scores the negative below the original (0 without a
        model), the captions of ``image`` left out."""
        if self.blind is None or not self.config.blind:
            return 0.0
        return self.blind.gap(original, negative, image)


def coordination_reorder(original: str, negative: str) -> bool:
    """Whether ``negative`` is ``original`` with the items of one coordination reordered (*X and
    Y* -> *Y and X*, *X, Y, and Z* -> *Z, Y, and X*; items of up to ``MAX_CONJUNCT`` words,
    words compared uninflected), unless a word after it refers back to an item (*it*, *the other*)."""
    before, after = (
        ["a" if t.lower == "an" else base(t.lower) for t in tokens(c) if t.is_word or t.text == ","]
        for c in (original, negative)
    )
    if len(before) != len(after):
        return False
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
    if not changed:
        return False
    first, last = changed[0], changed[-1] + 1
    for start in range(max(0, first - MAX_CONJUNCT + 1), first + 1):
        for end in range(last, min(len(before), last + MAX_CONJUNCT - 1) + 1):
            if refers_back(before[end:]):
                continue  # *a cube and a ball over it*: the order says which is over which
            old, new = _items(before[start:end]), _items(after[start:end])
            if old and new and old[1] == new[1] and sorted(old[0]) == sorted(new[0]):
                return True
    return False


def refers_back(words: list[str]) -> bool:
    """Whether lowercase ``words`` hold a word that refers back to an earlier item (*it*, *the
    other*), which makes a coordination's order count; the reciprocal *each other* does not."""
    return any(
        word in BACK_REFERENCES and (i == 0 or (words[i - 1], word) not in RECIPROCALS)
        for i, word in enumerate(words)
    )


def _items(words: list[str]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]] | None:
    """A coordination's items and the coordinators between them (*blue , yellow , and orange*),
    or None when ``words`` is not one (no coordinator, an empty or too long item)."""
    items, joints, item, joint = [], [], [], []
    for word in words:
        if word in COORDINATORS:
            if item:
                items.append(tuple(item))
                item = []
            joint.append(word)
        else:
            if joint:
                if not items:
                    return None
                joints.append(tuple(joint))
                joint = []
            item.append(word)
    if item:
        items.append(tuple(item))
    if joint or len(items) < 2 or any(len(i) > MAX_CONJUNCT for i in items):
        return None
    return items, joints


def coloured_people(words: list[str], lexicon: Lexicon) -> set[tuple[str, str]]:
    """``(colour, person)`` pairs of lowercase ``words``: a colour among the adjectives right
    before a noun whose most frequent sense is a person."""
    colours = lexicon.words("colour")
    found = set()
    for j, word in enumerate(words):
        if word in colours or not person(noun_lemma(word)):
            continue
        if j and words[j - 1] not in colours and compound(words[j - 1], word):
            continue  # *a red double decker bus*: a compound, not a person
        k = j - 1
        while k >= 0 and (is_adjective(words[k], lexicon) or words[k] in COORDINATORS):
            if words[k] in colours:
                found.add((words[k], noun_lemma(word)))
            k -= 1
    return found


def is_adjective(word: str, lexicon: Lexicon) -> bool:
    """Whether a lowercase word is an adjective by the lexicon or WordNet."""
    return word in lexicon.adjectives or lexicon.attribute_class(word) is not None or adjective(word)
