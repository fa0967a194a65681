"""The two sides of a pair: class names (ImageNet's 1,000 ship with the package) and nameable concepts.

A class name goes through the PMI table's own concept extraction (``"great white sharks"`` ->
``great``, ``white``, ``shark``), so multi-word and plural names match the table's concepts. A
candidate concept is kept when WordNet knows it as a noun for a physical thing or as an adjective,
i.e. something a photo can show or a word that describes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Protocol

from compclip.errors import UserError
from compclip.rejects import Rejects
from compclip.storage import read_bytes

IMAGENET = "imagenet"
PHYSICAL = "physical_entity.n.01"


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


def class_concepts(names: list[str], table: Concepts, rejects: Rejects) -> list[ClassConcepts]:
    """Each class with the concepts of its name that the table knows; classes with none are rejected."""
    found = []
    for name in names:
        concepts = tuple(c for c in table.concepts(name) if c in table.index)
        if concepts:
            found.append(ClassConcepts(name, concepts))
        else:
            rejects.add("class_not_in_pmi_vocabulary", name)
    return found


def is_nameable(concept: str, adjectives: bool = True) -> bool:
    """True when WordNet has ``concept`` as a noun below physical_entity (or as an adjective)."""
    from nltk.corpus import wordnet as wn

    if adjectives and wn.synsets(concept, pos=wn.ADJ):
        return True
    for synset in wn.synsets(concept, pos=wn.NOUN):
        if any(PHYSICAL in {h.name() for h in path} for path in synset.hypernym_paths()):
            return True
    return False


def nameable_concepts(
    vocabulary: list[str], min_count: int, counts: list[int], rejects: Rejects, adjectives: bool = True
) -> list[str]:
    """The vocabulary's concepts seen in at least ``min_count`` captions that WordNet can name."""
    kept = []
    for concept, count in zip(vocabulary, counts, strict=True):
        if count < min_count:
            rejects.add("concept_below_min_count", concept)
        elif not is_nameable(concept, adjectives):
            rejects.add("concept_not_nameable", concept)
        else:
            kept.append(concept)
    return kept
