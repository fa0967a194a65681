"""WordNet relations that make a replacement still true, and the co-hyponyms that make it false.

:func:`related`: *new* is a synonym (a shared synset), a hypernym or hyponym (at any depth, any
sense) of *old* as nouns, or as adjectives a synonym, a similar-to sense (*tiny* -> *small*,
*giant* -> *large*) or, in their most frequent senses, fellow satellites of the same attribute
head (*huge*, *giant*: both similar to *large*; not *red*, *blue*: both similar to *chromatic*).
A negative that makes such a replacement may still describe the image.

:func:`co_hyponyms`: replacements for a noun that are false and visual: siblings of its most
frequent sense (its parents' other children, then its grandparents' grandchildren, in the same
lexicographer file, e.g. ``noun.animal``) whose own most frequent sense lies there too, never
related to it; only for concrete senses (animals, artifacts, food, plants, people, objects, body
parts, shapes). :func:`same_kind`: the words of a vocabulary (a PMI table's) whose most frequent
sense lies in the noun's lexicographer file, never related to it: animals for animals in the
corpus's own words.
"""

from __future__ import annotations

from functools import cache

from compclip.nltkdata import wordnet as _wordnet

CONCRETE = frozenset(
    (
        "noun.animal",
        "noun.artifact",
        "noun.food",
        "noun.plant",
        "noun.person",
        "noun.object",
        "noun.body",
        "noun.shape",
    )
)


def _up(synset) -> set:
    return set(synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms()))


@cache
def _noun_senses(word: str) -> tuple[frozenset, frozenset]:
    """A noun's synsets and every hypernym of any of them."""
    senses = frozenset(_wordnet().synsets(word, "n"))
    return senses, frozenset(h for s in senses for h in _up(s))


@cache
def _adjective_cluster(word: str) -> frozenset:
    """An adjective's synsets and the synsets one similar-to step away."""
    senses = _wordnet().synsets(word, "a")
    return frozenset(senses) | frozenset(near for s in senses for near in s.similar_tos())


@cache
def _main_cluster(word: str) -> frozenset:
    """An adjective's most frequent sense and the synsets it is similar to."""
    senses = _wordnet().synsets(word, "a")
    return frozenset(senses[:1]) | frozenset(senses[0].similar_tos()) if senses else frozenset()


def related(old: str, new: str, heads: frozenset[str] = frozenset()) -> bool:
    """Whether replacing ``old`` by ``new`` may leave a caption true (see the module docstring).

    ``heads``: attribute words whose satellites count as synonyms of each other (the generator
    passes the attribute class, so *huge* and *giant* relate through *large*).
    """
    if old == new:
        return True
    senses_a, up_a = _noun_senses(old)
    senses_b, up_b = _noun_senses(new)
    if senses_a & senses_b or senses_a & up_b or senses_b & up_a:
        return True
    near_a, near_b = _adjective_cluster(old), _adjective_cluster(new)
    if set(_wordnet().synsets(old, "a")) & near_b or set(_wordnet().synsets(new, "a")) & near_a:
        return True
    shared = _main_cluster(old) & _main_cluster(new)
    return any(lemma.name() in heads for s in shared for lemma in s.lemmas())


@cache
def adjective(word: str) -> bool:
    """Whether WordNet has an adjective sense of ``word``."""
    return bool(_wordnet().synsets(word, "a"))


def concrete(noun: str) -> bool:
    """Whether a noun's most frequent sense is something one sees (see :data:`CONCRETE`)."""
    senses = _wordnet().synsets(noun, "n")
    return bool(senses) and senses[0].lexname() in CONCRETE


@cache
def animate(noun: str) -> bool:
    """Whether a noun's most frequent sense is a person or an animal (what can act: *a man
    drinking*, never *a bench drinking*)."""
    return _kind(noun) in ("noun.person", "noun.animal")


@cache
def compound(first: str, second: str) -> bool:
    """Whether two words make a WordNet noun compound (*double decker*, *traffic light*)."""
    return any(_wordnet().synsets(f"{first}{joint}{second}", "n") for joint in ("_", "-"))


def person(noun: str) -> bool:
    """Whether a noun's most frequent sense is a person."""
    return _kind(noun) == "noun.person"


def _level(synsets: set, step, n: int) -> set:
    """The synsets exactly ``n`` steps of ``step`` (hypernyms or hyponyms) away."""
    for _ in range(n):
        synsets = {t for s in synsets for t in step(s)}
    return synsets


@cache
def co_hyponyms(noun: str) -> tuple[str, ...]:
    """Concrete, unrelated siblings of ``noun``'s most frequent sense: its parents' other children
    first, then its grandparents' grandchildren (its own generation); most frequent first."""
    wordnet = _wordnet()
    senses = wordnet.synsets(noun, "n")
    if not senses or senses[0].lexname() not in CONCRETE:
        return ()
    sense = senses[0]
    found: dict[str, tuple[int, int]] = {}
    for distance in (1, 2):
        ancestors = _level({sense}, lambda s: s.hypernyms(), distance)
        # in name order: a lemma of several synsets takes the first one's count, so a set's
        # hash order here would change the pool from one process to the next
        for near in sorted(_level(ancestors, lambda s: s.hyponyms(), distance), key=lambda s: s.name()):
            if near.lexname() != sense.lexname():
                continue
            for lemma in near.lemmas():
                name = lemma.name()
                if name in found or not (name.isalpha() and name.islower() and lemma.count() > 0):
                    continue
                main = wordnet.synsets(name, "n")[0]
                if main.lexname() == sense.lexname() and not related(noun, name):
                    found[name] = (distance, -lemma.count())
    return tuple(sorted(found, key=lambda w: (found[w], w)))


def same_kind(noun: str, vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    """The words of ``vocabulary`` whose most frequent noun sense shares ``noun``'s concrete
    lexicographer file, never related to it; nearest first (WordNet path similarity of the most
    frequent senses: *shirt* -> *jacket* before *street*)."""
    kind = _kind(noun)
    if kind not in CONCRETE:
        return ()
    found = [w for w in vocabulary if w != noun and _kind(w) == kind and not related(noun, w)]
    sense = _wordnet().synsets(noun, "n")[0]
    near = {w: sense.path_similarity(_wordnet().synsets(w, "n")[0]) or 0.0 for w in found}
    return tuple(sorted(found, key=lambda w: -near[w]))


@cache
def _kind(noun: str) -> str | None:
    senses = _wordnet().synsets(noun, "n")
    return senses[0].lexname() if senses else None
