"""Which settings a negatives run uses: the world's template captions or real captions.

The negatives settings (``params.yaml`` ``negatives``) are the real captions' (the blind filter
on, ``candidates`` ranked by it); ``world`` holds where the world's depart from them. One
function decides, :func:`resolve`: with ``profile: auto`` the input says which, a dataset folder
``compclip world corpus`` wrote (its ``dataset.json`` names a world) is the world, anything else
real captions. ``negatives generate`` records the choice in ``metrics.json`` (``profile``), which
the run's lineage hashes with the rest of the stage's output.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal, TypeVar

from compclip.negatives.io import DATASET_HEADER
from compclip.storage import filesystem, is_dir, read_bytes

Profile = Literal["auto", "world", "real"]
C = TypeVar("C")


@dataclass(frozen=True)
class WorldSettings:
    """Where the world's negatives settings depart from the real captions'."""

    # a few candidates per type, the first valid kept: with no blind filter to rank them, more
    # only change which one is first
    candidates: int = 0
    # the world's captions are templates: a blind model of them learns the world's skewed
    # co-occurrence, which the negatives are meant to break
    blind: bool = False


def input_kind(inputs: str) -> str:
    """``world`` for a dataset folder whose ``dataset.json`` names a world, else ``real``."""
    if not is_dir(inputs):
        return "real"
    header = inputs.rstrip("/") + "/" + DATASET_HEADER
    fs, path = filesystem(header)
    if not fs.exists(path):
        return "real"
    try:
        return "world" if "world" in json.loads(read_bytes(header)) else "real"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "real"


def resolve(config: C, inputs: str) -> C:
    """``config`` (a :class:`~compclip.negatives.run.NegativesConfig`) as the run uses it:
    ``profile`` decided (``auto``: by :func:`input_kind`), the world's departures applied to a
    world run, and relation inversions asked once: when ``invert_relations`` is among the
    types, a relation replace may not invert (*left of* -> *right of* is the inversions' job)."""
    kind = config.profile if config.profile != "auto" else input_kind(inputs)
    filter = config.filter
    if "invert_relations" in config.types:
        filter = dataclasses.replace(filter, inverse_relations=False)
    candidates = config.candidates
    if kind == "world":
        candidates = config.world.candidates
        filter = dataclasses.replace(filter, blind=config.world.blind)
    return dataclasses.replace(config, profile=kind, candidates=candidates, filter=filter)
