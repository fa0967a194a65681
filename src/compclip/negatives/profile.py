"""Which settings a negatives run uses: the world's template captions or real captions.

The negatives settings (``params.yaml`` ``negatives``) are the real captions' (the blind filter
on, ``candidates`` ranked by it); ``world`` holds where the world's depart from them. One
function decides, :func:`resolve`: with ``profile: auto`` the input says which, a dataset folder
``compclip world corpus`` wrote (its ``dataset.json`` names a world) is the world, anything else
real captions. ``negatives generate`` records the choice in ``metrics.json`` (``profile``), which
the run's lineage hashes with the rest of the stage's output.

:func:`generators` decides which generator makes each type: with ``generator: auto`` real
captions take the LLM for ``llm_types`` (the types whose rule negatives stay poor on real
captions, BENCHMARKS.md) and the rules for the rest; the world takes the rules for every type.
Without a GPU (and no ``llm.device`` asked for) the LLM cannot run at its size: those types fall
back to the rules, a warning says so and ``metrics.json`` records it (``generator_<type>``,
``llm_fallback``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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
    # the rules read the world's template captions exactly: no type needs the LLM
    llm_types: tuple[str, ...] = ()


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
    candidates, llm_types = config.candidates, config.llm_types
    if kind == "world":
        candidates, llm_types = config.world.candidates, config.world.llm_types
        filter = dataclasses.replace(filter, blind=config.world.blind)
    return dataclasses.replace(
        config, profile=kind, candidates=candidates, filter=filter, llm_types=llm_types
    )


def wants_llm(config: Any) -> bool:
    """Whether a :func:`resolve`-d config has the LLM make any type (the pipeline's GPU branch)."""
    if config.generator != "auto":
        return config.generator == "llm"
    return any(kind in config.llm_types for kind in config.types)


def generators(config: Any) -> tuple[dict[str, str], str | None]:
    """Which generator (``rules`` or ``llm``) makes each type of a :func:`resolve`-d config, and
    why the LLM does not make the types ``auto`` gives it (None when it does, or none are)."""
    if config.generator != "auto":
        return {kind: config.generator for kind in config.types}, None
    wanted = [kind for kind in config.types if kind in config.llm_types]
    if wanted and config.llm.device == "auto" and not gpu():  # an 8B model on a CPU: days
        reason = (
            f"no GPU for the LLM ({config.llm.model}): {', '.join(wanted)} made by the rules instead; "
            "run in the gen image on a GPU for the LLM, or set generator: rules to choose this"
        )
        return {kind: "rules" for kind in config.types}, reason
    return {kind: "llm" if kind in wanted else "rules" for kind in config.types}, None


def gpu() -> bool:
    """Whether torch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
