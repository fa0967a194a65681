"""The two sides of a pair: class names (ImageNet's 1,000 ship with the package) and candidate concepts.

A class name goes through the PMI table's own concept extraction (``"great white sharks"`` ->
``great``, ``white``, ``shark``) and is scored by its head noun (``shark``), as the released code
does. A candidate concept passes the released code's filter (a noun or adjective to NLTK's tagger,
known to WordNet, no digits) and is no word of any class name (else the picture holds two classes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from compclip import nltkdata
from compclip.errors import UserError
from compclip.rejects import Rejects
from compclip.storage import read_bytes

IMAGENET = "imagenet"
PHYSICAL = "physical_entity.n.01"
HEAD, MEAN = "head", "mean"  # how a class is scored: by its head noun, or the mean over its name


class Concepts(Protocol):
    """What the vocabulary needs of a PMI table (:class:`compclip.pmi.PMITable` has it)."""

    index: dict[str, int]

    def concepts(self, text: str) -> list[str]: ...


@dataclass(frozen=True)
class ClassConcepts:
    """A class name and the in-vocabulary concepts its name extracts to."""

    name: str
    concepts: tuple[str, ...]


def class_lines(source: str = IMAGENET) -> list[str]:
    """Class names, one a line (``#`` comments and blank lines skipped), in file order.

    ``source`` is ``imagenet`` (the packaged list, line = class index) or a text file's path or s3:// URI.
    """
    if source == IMAGENET:
        text = resources.files(__package__).joinpath("imagenet_classes.txt").read_text()
    else:
        text = read_bytes(source).decode()
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not names:
        raise UserError(f"{source}: no class names")
    return names


def read_classes(source: str = IMAGENET) -> list[str]:
    """:func:`class_lines` without repeats, in first-seen order."""
    return list(dict.fromkeys(class_lines(source)))


def class_concepts(
    names: list[str], table: Concepts, rejects: Rejects, by: str = HEAD
) -> list[ClassConcepts]:
    """Each class with the concepts it is scored by; a class whose name has none in the table is rejected.

    ``by="head"``: the head noun alone, i.e. the last concept of the name (``"great white shark"`` ->
    ``shark``), as the released code matches classes; ``by="mean"``: every concept of the name.
    """
    if by not in (HEAD, MEAN):
        raise UserError(f"class_pmi must be {HEAD!r} or {MEAN!r}, got {by!r}")
    found = []
    for name in names:
        concepts = [c for c in table.concepts(name) if c in table.index]
        if by == HEAD:
            head = table.concepts(name)[-1:]
            concepts = head if head and head[0] in table.index else []
        if concepts:
            found.append(ClassConcepts(name, tuple(concepts)))
        else:
            rejects.add("class_not_in_pmi_vocabulary", name)
    return found


def class_words(names: list[str], table: Concepts) -> frozenset[str]:
    """Every concept of every class name: words a partner or accessory may not be (it would be
    another class in the picture)."""
    return frozenset(c for name in names for c in table.concepts(name))


def is_nameable(concept: str, adjectives: bool = True) -> bool:
    """True when WordNet has ``concept`` as a noun below physical_entity (or as an adjective)."""
    wn = nltkdata.wordnet()
    if adjectives and wn.synsets(concept, pos=wn.ADJ):
        return True
    for synset in wn.synsets(concept, pos=wn.NOUN):
        if any(PHYSICAL in {h.name() for h in path} for path in synset.hypernym_paths()):
            return True
    return False


def passes_pos_filter(word: str, adjectives: bool = True) -> bool:
    """The released code's partner filter: no digit, known to WordNet, tagged alone as a noun (or an
    adjective) by NLTK's perceptron, and not 'photo'/'image' (an image generator ignores them)."""
    wn = nltkdata.wordnet()
    if re.search(r"\d", word) or not wn.synsets(word) or "photo" in word or "image" in word:
        return False
    tag = nltkdata.perceptron().tag([word])[0][1]
    return tag.startswith("N") or (adjectives and tag.startswith("J"))


@dataclass(frozen=True)
class CandidateRules:
    """Which concepts may be a pair's other side (GenPairs) or an accessory (paste)."""

    min_count: int = 100  # captions a concept must occur in
    adjectives: bool = True  # False for accessories: an adjective cannot be pasted
    exclude_class_words: bool = True  # no word of any class name (the released code's ImageNet filter)
    physical_only: bool = False  # also require a WordNet noun below physical_entity (or an adjective)


def candidate_concepts(
    vocabulary: list[str],
    counts: list[int],
    rules: CandidateRules,
    excluded: frozenset[str],
    rejects: Rejects,
) -> list[str]:
    """The vocabulary's concepts that pass ``rules`` (``excluded``: the class words); the rest counted."""
    kept = []
    for concept, count in zip(vocabulary, counts, strict=True):
        if count < rules.min_count:
            rejects.add("concept_below_min_count", concept)
        elif rules.exclude_class_words and concept in excluded:
            rejects.add("concept_is_class_word", concept)
        elif not passes_pos_filter(concept, rules.adjectives):
            rejects.add("concept_fails_pos_filter", concept)
        elif rules.physical_only and not is_nameable(concept, rules.adjectives):
            rejects.add("concept_not_physical", concept)
        else:
            kept.append(concept)
    return kept
