"""Eval sets from the compositional world: PMI-stratified zero-shot sets and SugarCrepe-style subsets."""

from compclip.evalsets.build import EvalsetsConfig, build_evalsets, write_evalsets
from compclip.evalsets.compositional import SUBSETS, Example, build_subset, write_compositional
from compclip.evalsets.strata import allocate, assign_strata
from compclip.evalsets.zeroshot import (
    Item,
    Pairs,
    PMISource,
    genpairs_items,
    paste_items,
    single_items,
    stratified_pairs,
    write_evalset,
)

__all__ = [
    "SUBSETS",
    "EvalsetsConfig",
    "Example",
    "Item",
    "PMISource",
    "Pairs",
    "allocate",
    "assign_strata",
    "build_evalsets",
    "build_subset",
    "genpairs_items",
    "paste_items",
    "single_items",
    "stratified_pairs",
    "write_compositional",
    "write_evalset",
    "write_evalsets",
]
