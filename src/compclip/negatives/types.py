"""Hard-negative types (DeGLA's five and two of spatial relations) and the record every generator produces."""

from __future__ import annotations

from dataclasses import dataclass, field

PAPER_TYPES = ("reshuffle", "swap_nouns", "swap_adjectives", "replace_adjectives", "replace_nouns")
# The paper's five never change a spatial relation; these two do: its meaning ("left of" -> "above")
# and its direction ("left of" -> "right of").
TYPES = (*PAPER_TYPES, "replace_relations", "invert_relations")
SWAPS = ("reshuffle", "swap_nouns", "swap_adjectives")  # keep the words, change their order
REPLACES = ("replace_adjectives", "replace_nouns")  # change exactly one concept
RELATIONS = ("replace_relations", "invert_relations")  # change a spatial relation phrase, nothing else


@dataclass
class Record:
    """One caption with its valid negatives (``types`` parallel to ``enhanced``), as in DeGLA's JSON."""

    image_id: str
    original: str
    enhanced: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "image_id": self.image_id,
            "original": self.original,
            "enhanced": self.enhanced,
            "types": self.types,
        }
