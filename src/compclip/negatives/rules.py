"""The rule-based generator: hard negatives of every type from a tagged caption, no model needed.

- ``swap_nouns``: two noun groups (*tennis racket*, *dog*) trade places; each head noun takes the
  number of the place it lands in (*a dog and two cats* -> *a cat and two dogs*), inflected by
  lemminflect (:mod:`compclip.negatives.inflection`).
- ``swap_adjectives``: two different adjectives trade places, across noun phrases first.
- ``replace_adjectives``: one adjective becomes another of its attribute class (colour, size,
  material, ... in ``lexicon.yaml``) that WordNet does not relate to it (*small* -> *large*, never
  *tiny*), else a WordNet antonym; other adjectives are left alone.
- ``replace_nouns``: one head noun of a concrete sense becomes a co-hyponym of it
  (:func:`compclip.negatives.wordnet.co_hyponyms`: *dog* -> *cat*, never *puppy* or *animal*) or,
  with a PMI table, a word of the table's vocabulary of the same kind
  (:func:`compclip.negatives.wordnet.same_kind`), in the same number; a noun that ends a WordNet
  compound (*traffic light*) is left alone.
- ``replace_relations`` (not one of the paper's five): one spatial relation phrase becomes a phrase
  of another meaning of its group in ``lexicon.yaml`` (*to the left of* -> *above*); with a PMI
  table, only phrases whose words it has seen (when there are any). A relation with no object after
  it (*standing outside in the rain*) only becomes a phrase that stands alone (``alone``).
- ``invert_relations`` (not one of the paper's five): one spatial relation phrase becomes a phrase
  of its opposite (*to the left of* -> *to the right of*, *on top of* -> *beneath*); the two objects
  and their attributes stay where they are, so only the relation's direction tells them apart.
- ``reshuffle``: whole noun phrases (with their determiners and adjectives) move to each
  other's places (a derangement); with fewer than two noun phrases, the words between
  prepositions and verbs move as blocks. A finite verb after a moved subject agrees with it
  (*two men are near a dog* -> *a dog is near two men*).

Replacement words are ordered by :class:`~compclip.negatives.steering.Steering` (seeded, and
steered to low PMI when a table is given). Generators propose candidates; the validity filter decides.

``breadth`` sets how many: 0 proposes a few per caption and type (up to ``MAX_REPLACEMENTS`` per
edited word, ``MAX_PAIRS`` swap pairs, 3 rotations), for a filter that keeps the first valid one;
N proposes every candidate the rules allow (whole replacement pools, every phrase of a relation
meaning, every derangement of the noun phrases), up to N, edited words taking turns, for a filter
that ranks them (:meth:`compclip.negatives.validity.ValidityFilter.rank`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from compclip.negatives.inflection import (
    PLURAL_NUMBERS,
    PLURAL_TAGS,
    SINGULAR_DETERMINERS,
    noun_form,
    noun_lemma,
    verb_form,
)
from compclip.negatives.steering import Steering
from compclip.negatives.tagger import Lexicon, Tagger
from compclip.negatives.text import Token, normalize, render, surface, tokens
from compclip.negatives.validity import coloured_people, refers_back
from compclip.negatives.wordnet import animate, co_hyponyms, related, same_kind

MAX_PAIRS = 6  # swap pairs tried per caption
MAX_REPLACEMENTS = 6  # replacement words tried per edited word
POOL_SIZE = 24  # co-hyponyms kept per noun, nearest and most frequent first
BREAKS = ("preposition", "verb", "auxiliary", "conjunction", "punct")
OBJECT_TAGS = ("determiner", "number", "adj", "noun", "pronoun")  # a relation phrase's object starts so
FINITE_TAGS = ("VBZ", "VBP")
GOVERNORS = ("preposition", "verb", "auxiliary")  # what gives a phrase its role
COORDINATORS = ("and", "or", ",", "&")
PHRASE_TAGS = ("determiner", "number", "adj", "adverb", "noun", "framing", "name", "possessive")
OWNED_TAGS = ("number", "adj", "adverb")  # what may stand between a possessive and its noun


@dataclass(frozen=True)
class Parse:
    slots: list[Token]
    words: list[str]  # mid-sentence surface forms
    tags: list[str]
    penn: list[str]  # the perceptron's tags (number of nouns and verbs)
    nouns: list[tuple[int, int]]  # noun groups as [start, end)
    phrases: list[tuple[int, int]]  # noun phrases (determiners .. head) as [start, end)

    @property
    def adjectives(self) -> list[int]:
        """Adjectives of what is shown, not of a framing noun ("a simple drawing of ...")."""
        return [i for i, tag in enumerate(self.tags) if tag == "adj" and _modified(self.tags, i) != "framing"]


class RuleGenerator:
    """Proposes candidate negatives of one type for one caption."""

    def __init__(
        self, steering: Steering | None = None, lexicon: Lexicon | None = None, breadth: int = 0
    ) -> None:
        self.breadth = breadth  # 0: a few candidates per type; N: all the rules allow, up to N
        self.lexicon = lexicon or Lexicon.load()
        self.tagger = Tagger(self.lexicon)
        self.steering = steering or Steering()
        self.relation_options = cache(self._relation_options)
        self.vocabulary = self.steering.vocabulary()
        self.noun_pool = cache(self._noun_pool)

    def parse(self, caption: str) -> Parse:
        slots = tokens(caption)
        words = [surface(t, i) for i, t in enumerate(slots)]
        penn = self.tagger.penn(words)
        tags = self.tagger.tag(words, penn)
        # a plural-only noun (*pants*) is never moved into a singular place, replaced or singularised
        nouns = [(s, e) for s, e in _possessed(tags) if words[e - 1].lower() not in self.lexicon.plural_only]
        phrases = []
        for start, end in nouns:
            while start > 0 and (
                tags[start - 1] in ("determiner", "number", "adj", "adverb", "name")
                # coordinated adjectives stay with their noun: *a white and brown dog*
                or (start > 1 and words[start - 1].lower() in COORDINATORS and tags[start - 2] == "adj")
            ):
                start -= 1
            phrases.append((start, end))
        return Parse(slots, words, tags, penn, nouns, phrases)

    def candidates(self, caption: str, kind: str, rng: np.random.Generator) -> list[str]:
        """Distinct candidate negatives of ``kind``, best first (possibly none)."""
        parse = self.parse(caption)
        edits = getattr(self, f"_{kind}")(parse, caption, rng)
        people = coloured_people(normalize(caption), self.lexicon)
        found = [
            negative
            for negative in dict.fromkeys(render(parse.slots, words) for words in edits)
            if coloured_people(normalize(negative), self.lexicon) <= people  # no colour moved onto a person
        ]
        return found[: self.breadth] if self.breadth else found

    def needs(self, caption: str) -> dict[str, bool]:
        """Whether the caption has the words each type needs (for yield statistics)."""
        parse = self.parse(caption)
        lemmas = {tuple(noun_lemma(parse.words[i].lower()) for i in range(s, e)) for s, e in parse.nouns}
        return {
            "reshuffle": sum(t[:1].isalnum() for t in parse.words) >= 2,
            "swap_nouns": len(lemmas) >= 2,
            "swap_adjectives": len({_phrase_of(parse, i) for i in parse.adjectives}) >= 2,
            "replace_adjectives": bool(parse.adjectives),
            "replace_nouns": bool(parse.nouns),
            "replace_relations": bool(self._relation_spans(parse)),
            "invert_relations": any(m in self.lexicon.inverses for *_, m in self._relation_spans(parse)),
        }

    def _swap_nouns(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        # coordinated nouns (*a man and a woman*) trade places only when their words differ (*two
        # men and a woman* -> *two women and a man*): the filter refuses a mere reorder
        pairs = list(itertools.combinations(p.nouns, 2))
        edits = []
        for (a0, a1), (b0, b1) in pairs[: self.breadth or MAX_PAIRS]:
            group_a, group_b = self._group(p, a0, a1, b1 - 1), self._group(p, b0, b1, a1 - 1)
            words = p.words[:a0] + group_b + p.words[a1:b0] + group_a + p.words[b1:]
            tags = p.tags[:a0] + p.tags[b0:b1] + p.tags[a1:b0] + p.tags[a0:a1] + p.tags[b1:]
            if [w.lower() for w in group_a] != [w.lower() for w in group_b] and _agents_kept(p, words, tags):
                edits.append(words)
        return edits

    def _group(self, p: Parse, start: int, end: int, place: int) -> list[str]:
        """The noun group [start, end) with its head in the number of the head at ``place``."""
        head = noun_form(noun_lemma(p.words[end - 1].lower()), _plural(p, place))
        return [*p.words[start : end - 1], head]

    def _swap_adjectives(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        # Only across noun phrases: "a large white star" -> "a white large star" still describes the image.
        # (a coordination's reorder, *a black dog and a white dog* -> *a white dog and a black dog*,
        # is still true: the filter refuses it)
        pairs = [
            (i, j)
            for i, j in itertools.combinations(p.adjectives, 2)
            if p.words[i].lower() != p.words[j].lower()
            and _phrase_of(p, i) != _phrase_of(p, j)
            # next to each other or in one list (adjectives, punctuation and coordinators between)
            # they only trade places: *his mouth wide open*, *blue yellow and red*
            and any(
                p.tags[k] not in ("punct", "adj") and p.words[k].lower() not in COORDINATORS
                for k in range(i + 1, j)
            )
        ]
        # Attributes of one class first: a colour for a colour reads as a caption; colour for size less so.
        kind = self.lexicon.attribute_class
        pairs.sort(
            key=lambda ij: (
                kind(p.words[ij[0]].lower()) != kind(p.words[ij[1]].lower())
                or kind(p.words[ij[0]].lower()) is None
            )
        )
        edits = []
        for i, j in pairs[: self.breadth or MAX_PAIRS]:
            words = list(p.words)
            words[i], words[j] = words[j], words[i]
            edits.append(words)
        return edits

    def _replace_adjectives(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        present = {w.lower() for w in p.words}
        per_word = []
        for i in rng.permutation(p.adjectives):
            word = p.words[i].lower()
            pool = [w for w in self._adjective_pool(word) if w not in present]
            ordered = self.steering.order(pool, caption, word, rng)
            per_word.append([[*p.words[:i], new, *p.words[i + 1 :]] for new in ordered])
        return self._spread(per_word)

    def _adjective_pool(self, adjective: str) -> list[str]:
        """The other poles of the adjective's axes that WordNet does not relate to it; none for an
        adjective on no axis (a WordNet antonym of one, *religious* -> *irreligious*, is rarely
        something an image shows)."""
        name = self.lexicon.attribute_class(adjective)
        if name is None:
            return []
        heads = frozenset(self.lexicon.words(name))
        return [w for w in self.lexicon.opposites(adjective) if not related(adjective, w, heads)]

    def _replace_nouns(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        present = {noun_lemma(w.lower()) for w in p.words}
        per_word = []
        for n in rng.permutation(len(p.nouns)):
            start, end = p.nouns[n]
            i = end - 1
            if end - start > 1 and self.tagger.wordnet.synsets("_".join(p.words[i - 1 : end]).lower(), "n"):
                continue  # "traffic light": the head alone is another thing
            head = noun_lemma(p.words[i].lower())
            pool = [w for w in self.noun_pool(head) if w not in present]
            ordered = self.steering.order(pool, caption, head, rng)
            plural = _plural(p, i)
            per_word.append([[*p.words[:i], noun_form(new, plural), *p.words[i + 1 :]] for new in ordered])
        return self._spread(per_word)

    def _spread(self, per_word: list[list[list[str]]]) -> list[list[str]]:
        """Replacement edits of several words: the first ``MAX_REPLACEMENTS`` of each, word after
        word; with a ``breadth``, all of them, the words taking turns (so a cap leaves none out)."""
        if not self.breadth:
            return [edit for edits in per_word for edit in edits[:MAX_REPLACEMENTS]]
        return [edit for turn in itertools.zip_longest(*per_word) for edit in turn if edit is not None]

    def _noun_pool(self, noun: str) -> list[str]:
        """WordNet co-hyponyms of ``noun``, then the steering vocabulary's nouns of its kind."""
        kind = [w for w in same_kind(noun, self.vocabulary) if self.tagger.base_tag(w) == "noun"]
        return list(dict.fromkeys([*co_hyponyms(noun)[:POOL_SIZE], *kind[:POOL_SIZE]]))

    def _replace_relations(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        def others(group: str, meaning: str) -> list[str]:
            options = [m for m in self.lexicon.relations[group] if m != meaning]
            return [options[i] for i in rng.permutation(len(options))][:MAX_REPLACEMENTS]

        return self._relation_edits(p, rng, others)

    def _invert_relations(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        inverses = self.lexicon.inverses
        return self._relation_edits(p, rng, lambda _, m: [inverses[m]] if m in inverses else [])

    def _relation_edits(
        self, p: Parse, rng: np.random.Generator, meanings: Callable[[str, str], list[str]]
    ) -> list[list[str]]:
        """Per relation span (in a seeded order), the caption with the span expressing each of
        ``meanings(group, meaning)`` instead, in one of its phrases (each of them, with a
        ``breadth``). The new phrase fills the span's first slot; the span's other slots are emptied."""
        spans, edits = self._relation_spans(p), []
        for n in rng.permutation(len(spans)):
            start, end, group, meaning = spans[n]
            has_object = end < len(p.tags) and p.tags[end] in OBJECT_TAGS
            for other in meanings(group, meaning):
                phrases = [
                    phrase
                    for phrase in self.relation_options(group, other)
                    if has_object or phrase in self.lexicon.alone
                ]
                if not phrases:
                    continue
                chosen = phrases if self.breadth else [phrases[int(rng.integers(len(phrases)))]]
                for phrase in chosen:
                    edits.append([*p.words[:start], phrase, *[""] * (end - start - 1), *p.words[end:]])
        return edits

    def _relation_options(self, group: str, meaning: str) -> list[str]:
        """The phrases that may express ``meaning`` (the steering's vocabulary, when it knows any)."""
        return self.steering.known([" ".join(words) for words in self.lexicon.relations[group][meaning]])

    def _relation_spans(self, p: Parse) -> list[tuple[int, int, str, str]]:
        return self.lexicon.relation_spans([w.lower() for w in p.words])

    def _reshuffle(self, p: Parse, caption: str, rng: np.random.Generator) -> list[list[str]]:
        blocks = p.phrases if len(p.phrases) >= 2 else _blocks(p.tags)
        if len(blocks) < 2:
            return []
        inside = {i for s, e in blocks for i in range(s, e)}
        roles = [_governor(p, s) for s, _ in blocks]
        # *a cube and a ball over it*: a word referring back makes the order of a coordination count
        referred = refers_back([w.lower() for w in p.words])
        edits = []
        n = len(blocks)
        for order in _derangements(n, rng, self.breadth) if self.breadth else _rotations(n, rng):
            if all(roles[source] == roles[place] for place, source in enumerate(order)) and not referred:
                continue  # only coordinated phrases trade places (*a man and a woman*): still true
            words, tags, last = [], [], 0
            for (start, end), source in zip(blocks, order, strict=True):
                s, e = blocks[source]
                words += p.words[last:start] + p.words[s:e]
                tags += p.tags[last:start] + p.tags[s:e]
                last = end
                verb = end < len(p.words) and end not in inside and p.penn[end] in FINITE_TAGS
                if verb and p.tags[e - 1] == "noun":
                    plural = _plural(p, e - 1)
                    if plural != _plural(p, end - 1):  # the verb's subject changed number
                        words.append(verb_form(p.words[end], plural))
                        tags.append(p.tags[end])
                        last = end + 1
            words += p.words[last:]
            tags += p.tags[last:]
            if [w.lower() for w in words] != [w.lower() for w in p.words] and self._reads_well(
                p, words, tags, whole=blocks is p.phrases
            ):
                edits.append(words)
        return edits

    def _reads_well(self, p: Parse, words: list[str], tags: list[str], whole: bool) -> bool:
        """Whether a reshuffle of ``p`` still reads as a sentence: moved noun phrases (``whole``)
        keep its structure, other blocks must give the caption's sequence of phrases,
        prepositions and verbs when tagged anew; and :func:`_agents_kept`."""
        if not whole and _skeleton(self.tagger.tag(words)) != _skeleton(p.tags):
            return False
        return _agents_kept(p, words, tags)


def _plural(p: Parse, i: int) -> bool:
    """Whether the noun at ``i`` is plural: by its number word (*three sheep*, *a sheep*), else its tag."""
    start = next((s for s, e in p.phrases if s <= i < e), i)
    for word in reversed(p.words[start:i]):
        if word.lower() in PLURAL_NUMBERS:
            return True
        if word.lower() in SINGULAR_DETERMINERS:
            return False
    return p.penn[i] in PLURAL_TAGS


def _governor(p: Parse, i: int) -> int:
    """The role of word ``i``: the index of the nearest preposition, verb, auxiliary or *than*
    before it, -1 before any (a subject). Coordinated words (*a man and a woman*, *white and
    brown*) share it."""
    return next(
        (j for j in range(i - 1, -1, -1) if p.tags[j] in GOVERNORS or p.words[j].lower() == "than"), -1
    )


def _governing(tags: list[str], i: int) -> int:
    return next((j for j in range(i - 1, -1, -1) if tags[j] in GOVERNORS), -1)


def _skeleton(tags: list[str]) -> list[str]:
    """A caption's structure: its tags with every run of noun-phrase words read as one phrase."""
    out: list[str] = []
    for tag in tags:
        kind = "phrase" if tag in PHRASE_TAGS else tag
        if not (kind == "phrase" and out and out[-1] == "phrase"):
            out.append(kind)
    return out


def _agents_kept(p: Parse, words: list[str], tags: list[str]) -> bool:
    """Whether every verb whose subject was a person or an animal still has one after a swap
    (``words`` and their ``tags``, moved with them): not *a bench drinking*."""
    before, after = _agents(p.tags, [w.lower() for w in p.words]), _agents(tags, [w.lower() for w in words])
    return len(before) == len(after) and all(b is not True or a for b, a in zip(before, after, strict=True))


def _agents(tags: list[str], words: list[str]) -> list[bool | None]:
    """For each verb, whether its subject is a person or an animal; None when it has none. The
    subject: the noun right before the verb (an auxiliary or adverb between them allowed) or, when
    that noun is a preposition's (*a man in a red shirt is drinking*), the noun before the preposition."""
    found: list[bool | None] = []
    for i, tag in enumerate(tags):
        if tag != "verb":
            continue
        j = i - 1
        while j >= 0 and tags[j] in ("auxiliary", "adverb"):
            j -= 1
        while j >= 0 and tags[j] == "noun":
            governor = _governing(tags, j)
            if governor < 0 or tags[governor] != "preposition":
                break
            j = next((k for k in range(governor - 1, -1, -1) if tags[k] == "noun"), -1)
        found.append(animate(noun_lemma(words[j])) if j >= 0 and tags[j] == "noun" else None)
    return found


def _modified(tags: list[str], i: int) -> str:
    """The tag of the word the adjective at ``i`` modifies: the first after it that is no adjective."""
    return next((t for t in tags[i + 1 :] if t != "adj"), "")


def _phrase_of(p: Parse, i: int) -> int:
    """The index of the noun phrase holding word ``i`` (a distinct negative number when none does)."""
    return next((n for n, (s, e) in enumerate(p.phrases) if s <= i < e), -1 - i)


def _possessed(tags: list[str]) -> list[tuple[int, int]]:
    """Noun groups as [start, end): runs of nouns, a possessor joined to what it owns (*man 's
    red shirt*, Flickr8k's split ``'s``), so a swap or reshuffle moves them together and only
    the head is replaced."""
    groups: list[tuple[int, int]] = []
    for start, end in _runs(tags, "noun"):
        last = groups[-1][1] if groups else -1
        if last >= 0 and tags[last] == "possessive" and all(t in OWNED_TAGS for t in tags[last + 1 : start]):
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    return groups


def _runs(tags: list[str], tag: str) -> list[tuple[int, int]]:
    runs, start = [], None
    for i, t in enumerate([*tags, ""]):
        if t == tag and start is None:
            start = i
        elif t != tag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _blocks(tags: list[str]) -> list[tuple[int, int]]:
    """Runs of words between breaks (prepositions, verbs, conjunctions, punctuation)."""
    return [(s, e) for s, e in _runs(["x" if t not in BREAKS else t for t in tags], "x")]


def _rotations(n: int, rng: np.random.Generator, k: int = 3) -> list[list[int]]:
    """Up to ``k`` cyclic shifts of ``range(n)`` (each moves every block), in a seeded order."""
    found = [[(i + shift) % n for i in range(n)] for shift in range(1, n)]
    rng.shuffle(found)
    return found[:k]


def _derangements(n: int, rng: np.random.Generator, k: int) -> list[tuple[int, ...]]:
    """Up to ``k`` orders of ``range(n)`` that move every block: the cyclic shifts first, then
    other derangements (all of them for up to 6 blocks, else a seeded sample), in a seeded order."""
    shifts = [tuple(order) for order in _rotations(n, rng, n)]
    if n <= 6:
        pool = list(itertools.permutations(range(n)))
    else:
        pool = [tuple(int(i) for i in rng.permutation(n)) for _ in range(4 * k)]
    others = list(dict.fromkeys(o for o in pool if all(o[i] != i for i in range(n)) and o not in shifts))
    rng.shuffle(others)
    return (shifts + others)[:k]
