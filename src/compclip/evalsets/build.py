"""``evalsets build``: every eval set of the world against the pretraining corpus' PMI table.

``build_evalsets(pmi, out, config)``: the PMI table and ``out`` are URIs (local path or ``s3://``).
Writes ``genpairs/``, ``paste/`` and ``single/`` (zero-shot sets), ``compositional/`` (SugarCrepe
schema, nothing but the subset JSONs and their images) and ``metrics.json`` under ``out``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from compclip.config import Checked, PositiveInt, Range, Share
from compclip.errors import UserError
from compclip.evalsets.compositional import write_compositional
from compclip.evalsets.zeroshot import (
    PMISource,
    genpairs_items,
    paste_items,
    single_items,
    strata_summary,
    stratified_pairs,
    write_evalset,
)
from compclip.outputs import local_out
from compclip.pmi import PMITable
from compclip.rejects import Rejects
from compclip.storage import write_json
from compclip.world.preset import load_world

log = logging.getLogger(__name__)

Byte = Annotated[int, Range(0, 255)]


@dataclass(frozen=True)
class EvalsetsConfig(Checked):
    """Sizes of the sets and the world they come from (the same preset and overrides as the corpus)."""

    seed: int = 0
    preset: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    n_strata: PositiveInt = 10
    per_stratum: PositiveInt = 200  # images per PMI stratum, in GenPairs-world and in Paste-world
    single_per_class: PositiveInt = 100
    per_subset: PositiveInt = 300  # compositional items per subset
    paste_area: Annotated[float, Range(0, 1, open_low=True)] = (
        0.1  # share of the image the pasted accessory card covers
    )
    paste_card: tuple[Byte, Byte, Byte] = (128, 128, 128)
    max_reject_share: Share = 0.1  # (class, accessory) pairs allowed outside the PMI vocabulary


def build_evalsets(pmi: str, out: str, config: EvalsetsConfig = EvalsetsConfig()) -> dict:
    """Build every set from the PMI table folder ``pmi`` into ``out`` (each a local path or s3:// URI),
    written whole on success; return the metrics. The sets record the table's header (its corpus
    fingerprint and settings), not where it was read from."""
    table = PMITable.load(pmi)
    log.info("read PMI table %s (%d captions, %d concepts)", pmi, table.n_captions, len(table.names))
    with local_out(out) as staged:
        return write_evalsets(table, table.header, staged, config)


def write_evalsets(table: PMISource, provenance: dict, out: Path, config: EvalsetsConfig) -> dict:
    """Build every set against ``table`` into ``out``; returns (and writes) the flat metrics."""
    world = load_world(config.preset, config.overrides)
    rejects = Rejects()
    pairs = stratified_pairs(world, table, config.n_strata, rejects)
    rejects.check(len(world.objects) * len(world.accessories), config.max_reject_share, "evalsets: PMI pairs")
    strata = strata_summary(pairs)
    header = {"classes": list(world.objects), "seed": config.seed, "pmi_table": provenance,
              "world": {"preset": config.preset, "overrides": config.overrides}}  # fmt: skip
    sets = {
        "genpairs": (genpairs_items(world, pairs, config.per_stratum, config.seed), {"strata": strata}),
        "paste": (
            paste_items(world, pairs, config.per_stratum, config.seed, config.paste_area, config.paste_card),
            {"strata": strata, "paste_area": config.paste_area},
        ),
        "single": (single_items(world, config.single_per_class, config.seed), {}),
    }
    for name, (items, extra) in sets.items():
        if not items:
            raise UserError(
                f"evalsets: the {name} set would be empty; check per_stratum and single_per_class"
            )
        write_evalset(out / name, f"{name}-world", items, {**header, **extra})
    counts = write_compositional(world, out / "compositional", config.per_subset, config.seed)
    metrics: dict = {f"{name}/n": len(items) for name, (items, _) in sets.items()}
    metrics |= {f"compositional/{subset}/n": n for subset, n in counts.items()}
    metrics |= {
        "pairs": len(pairs.pmi),
        "strata": len(strata),
        "pairs_never_together": int((pairs.strata == 0).sum()),
    }
    metrics |= {f"rejects/{reason}": n for reason, n in rejects.as_dict().items()}
    write_json(out / "metrics.json", metrics)
    return metrics
