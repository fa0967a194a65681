"""Caption text as tokens that keep their spacing and case, so an edited caption reads like the original.

Word tokens are runs of letters/digits (with inner hyphens or apostrophes: ``t-shirt``,
``man's``) or web addresses (``statefarm.com``); a possessive split off its noun, as Flickr8k's
tokenised captions write it (*a man 's shirt*), is one token ``'s``; every other non-space
character is a token of its own. Rendering puts each word in a
slot of the original: the slot keeps its whitespace and sentence-initial capital, so moved words
take the case of where they land. Articles are re-chosen (``a``/``an``, by inflect) by the next word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from compclip import nltkdata
from compclip.negatives.inflection import article

# a web address (*statefarm.com*, *www.x.org/a*) is one word, never split at its dots
ADDRESS = (
    r"(?:https?://|www\.)\S+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|edu|gov|io|uk)\b(?:/\S*)?"
)
POSSESSIVES = ("'s", "’s")
WORD = re.compile(rf"(\s*)({ADDRESS}|[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*|['’]s\b|\S)")


@dataclass(frozen=True)
class Token:
    text: str
    space: str  # whitespace before the token in the original

    @property
    def is_word(self) -> bool:
        return self.text[0].isalnum()

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokens(caption: str) -> list[Token]:
    """Split a caption into tokens; leading and trailing whitespace is dropped."""
    return [Token(m.group(2), m.group(1)) for m in WORD.finditer(caption.strip())]


def render(slots: list[Token], words: list[str]) -> str:
    """Put ``words`` (lowercase unless proper) into ``slots``; fix sentence case and articles.

    A word may hold several (a phrase), and an empty word drops its slot with its space.
    """
    out = []
    for i, (slot, word) in enumerate(zip(slots, words, strict=True)):
        following = next((w for w in words[i + 1 :] if w), "")
        out.append("" if not word else ("" if i == 0 else slot.space) + _article(word, following))
    first = next((i for i, t in enumerate(slots) if t.is_word), None)
    if first is not None and slots[first].text[:1].isupper() and out[first]:
        word = out[first].lstrip()
        out[first] = out[first][: len(out[first]) - len(word)] + word[:1].upper() + word[1:]
    return "".join(out)


def surface(token: Token, index: int) -> str:
    """A token's word as it would read in the middle of a sentence (sentence capital removed)."""
    text = token.text
    if index == 0 and text[:1].isupper() and text[1:] == text[1:].lower():
        return text.lower()
    return text


def _article(word: str, following: str) -> str:
    """``word``, or the article (``a``/``an``) that the next word ``following`` takes."""
    if word.lower() not in ("a", "an") or not following[:1].isalnum():
        return word
    chosen = article(following)
    return chosen.capitalize() if word[:1].isupper() else chosen


def normalize(caption: str) -> list[str]:
    """Lowercase words with ``an`` read as ``a``: what "the same caption" and "the same words" compare."""
    return ["a" if t.lower == "an" else t.lower for t in tokens(caption) if t.is_word]


@cache
def singular(noun: str) -> str:
    """A lowercase noun's singular: WordNet's shortest base form, a changed one on ties (*men* -> *man*)."""
    bases = nltkdata.wordnet()._morphy(noun, "n")
    return min(bases, key=lambda b: (len(b), b == noun)) if bases else noun
