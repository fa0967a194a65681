"""Concept extraction: the paper's rules for turning a caption into a set of concepts.

For a caption: replace every run of ``[\\W_]`` by a space, lowercase, split on whitespace,
drop NLTK English stopwords, one-character tokens and numeric tokens (``str.isnumeric``, as
the released code), then lemmatize each
remaining token with NLTK's WordNetLemmatizer (as a noun). Filters apply before
lemmatizing, as in the released code, so ``"us"`` becomes the concept ``"u"``. Each concept
counts once per caption.

:class:`ConceptRules` is the slow, obviously-correct reference; :mod:`compclip.pmi.encode`
is the fast batch path and is tested against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path

from compclip import nltkdata

NON_WORD = re.compile(r"[\W_]+")
RULES_VERSION = "paper-v1"


def tokenize(text: str) -> list[str]:
    """Split a caption into lowercase word tokens (before any filter)."""
    return NON_WORD.sub(" ", text).lower().split()


class ConceptRules:
    """Stopwords + lemmatizer, with a cache from raw token to concept (or None when filtered)."""

    def __init__(self) -> None:
        from nltk.stem import WordNetLemmatizer

        self.stopwords = nltkdata.stopwords()
        self.wordnet_version = nltkdata.wordnet().get_version()
        self._lemmatize = WordNetLemmatizer().lemmatize
        self._cache: dict[str, str | None] = {}

    def concept(self, token: str) -> str | None:
        """The concept of one lowercase token, or None when a filter drops it."""
        found = self._cache.get(token, False)
        if found is not False:
            return found
        if len(token) < 2 or token.isnumeric() or token in self.stopwords:
            result = None
        else:
            result = self._lemmatize(token)
        self._cache[token] = result
        return result

    def concepts(self, text: str) -> list[str]:
        """The concepts of a caption, each once, in order of first appearance."""
        seen: dict[str, None] = {}
        for token in tokenize(text):
            concept = self.concept(token)
            if concept is not None:
                seen.setdefault(concept)
        return list(seen)

    @cached_property
    def provenance(self) -> dict:
        """What a PMI header records so that the extraction can be reproduced."""
        import nltk

        words = "\n".join(sorted(self.stopwords))
        record = {
            "rules": RULES_VERSION,
            "token_pattern": NON_WORD.pattern,
            "steps": "replace [\\W_]+ by space; lowercase; split; drop stopwords, len<2, isnumeric; "
            "WordNetLemmatizer (noun); dedupe per caption",
            "stopwords_sha256": hashlib.sha256(words.encode()).hexdigest(),
            "stopwords_count": len(self.stopwords),
            "nltk_version": nltk.__version__,
            "wordnet_version": self.wordnet_version,
            "lemmatizer": "nltk.stem.WordNetLemmatizer.lemmatize(pos='n')",
        }
        record.update(_provisioned())
        return record


def _provisioned() -> dict:
    """Where the NLTK data came from, as written by :mod:`compclip.nltkdata`."""
    import nltk

    for folder in nltk.data.path:
        path = Path(folder) / "compclip-nltk.json"
        if path.is_file():
            return {f"{key}_source": value for key, value in json.loads(path.read_text()).items()}
    return {}
