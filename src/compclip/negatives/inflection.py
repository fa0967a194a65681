"""Inflection through maintained libraries: nouns and verbs by lemminflect, *a*/*an* by inflect.

The rule generator never builds a word form itself: a noun moved or put into a slot takes the
slot's number (``NN``/``NNS``), a verb after a subject whose number changed takes the subject's
(``VBZ``/``VBP``), and an article is chosen by the word after it.
"""

from __future__ import annotations

from functools import cache

PLURAL_TAGS = ("NNS", "NNPS")
PLURAL_NUMBERS = frozenset(
    [
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "twenty",
        "several",
        "many",
        "multiple",
        "few",
        "various",
        "numerous",
        "both",
    ]
)
SINGULAR_DETERMINERS = frozenset(("a", "an", "one", "each", "every", "another"))
# lemminflect reads *people* as a lemma of its own and pluralises *person* as *persons*;
# captions say *people*.
PEOPLE = {"people": "person"}


@cache
def _engine():
    import inflect

    return inflect.engine()


def article(following: str) -> str:
    """``a`` or ``an`` before ``following`` (by its sound: *an hour*, *a unicorn*)."""
    return _engine().a(following).split(" ", 1)[0]


@cache
def noun_lemma(noun: str) -> str:
    """A lowercase noun's singular (*women* -> *woman*); unknown words as they are."""
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(noun, "NOUN").get("NOUN", ())
    return PEOPLE.get(noun) or (lemmas[0] if lemmas else noun)


@cache
def noun_form(lemma: str, plural: bool) -> str:
    """``lemma`` in the singular or plural (*woman* -> *women*)."""
    from lemminflect import getInflection

    if plural and lemma in PEOPLE.values():
        return next(k for k, v in PEOPLE.items() if v == lemma)
    forms = getInflection(lemma, "NNS" if plural else "NN", inflect_oov=True)
    return forms[0] if forms else lemma


@cache
def misinflected(word: str) -> bool:
    """Whether ``word`` is a wrong plural of a noun lemminflect knows (*womans*, *childs*, *mens*)."""
    from lemminflect import getAllInflections, getAllLemmas, getAllLemmasOOV

    if getAllLemmas(word) or not word.endswith("s"):
        return False
    guesses = getAllLemmasOOV(word, "NOUN").get("NOUN", ())
    return any(getAllInflections(g, "NOUN") and word not in noun_forms(g) for g in guesses)


def noun_numbers(word: str) -> set[str]:
    """The numbers (``NN``, ``NNS``) a known noun form can have (*antelope*: both); empty if unknown."""
    from lemminflect import getAllInflections

    forms = getAllInflections(noun_lemma(word), "NOUN")
    return {tag for tag, found in forms.items() if word in found}


def noun_forms(lemma: str) -> set[str]:
    from lemminflect import getAllInflections

    return {form for forms in getAllInflections(lemma, "NOUN").values() for form in forms} | {lemma}


FINITE = {"is": "are", "was": "were", "has": "have"}


def verb_form(verb: str, plural: bool) -> str:
    """A finite verb agreeing with a subject of that number (*is* <-> *are*, *sits* <-> *sit*)."""
    from lemminflect import getInflection, getLemma

    lower = verb.lower()
    for singular_form, plural_form in FINITE.items():
        if lower in (singular_form, plural_form):
            return plural_form if plural else singular_form
    lemmas = getLemma(lower, "VERB")
    forms = getInflection(lemmas[0], "VBP" if plural else "VBZ") if lemmas else ()
    return forms[0] if forms else verb


@cache
def base(word: str) -> str:
    """A word with its inflection removed, whatever its part of speech (*dogs*, *are*, *sits*):
    what "the same words" compares after a swap that re-inflects."""
    from lemminflect import getAllLemmas

    lemmas = sorted({lemma for found in getAllLemmas(word).values() for lemma in found})
    return PEOPLE.get(word) or (lemmas[0] if lemmas else word)
