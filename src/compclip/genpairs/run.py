"""The GenPairs stage: pairs by PMI stratum from a real PMI table, LLM captions, FLUX images.

``genpairs(pmi, out, config)`` selects (ImageNet class, concept) pairs spread over PMI strata,
has a causal LM write a caption featuring both (kept only when its concepts hold both), paints
``images_per_caption`` FLUX images of each kept caption and writes a zero-shot evaluation set in
the schema of the world's GenPairs-world (``compclip evaluate --zeroshot`` reads it). Work goes in
chunks of pairs (:mod:`compclip.chunks`): resumable, and shardable with ``shard``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.config import Checked, PositiveInt, Share
from compclip.errors import UserError
from compclip.evalsets.generated import write_evalset
from compclip.evalsets.zeroshot import Pairs, strata_summary
from compclip.genpairs.captions import CaptionConfig, Captioner, LLMCaptioner, choose
from compclip.genpairs.images import FluxConfig, FluxPainter, Painter, image_seed
from compclip.genpairs.pairs import Pair, select_pairs
from compclip.genpairs.vocabulary import IMAGENET, class_concepts, nameable_concepts, read_classes
from compclip.pmi import PMITable
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [("id", pa.string()), ("image", pa.string()), ("label", pa.string()), ("accessory", pa.string()),
     ("pmi", pa.float64()), ("stratum", pa.int64()), ("caption", pa.string()), ("seed", pa.int64()),
     ("pair_id", pa.string())]
)  # fmt: skip


@dataclass(frozen=True)
class GenPairsConfig(Checked):
    seed: int = 0
    classes: str = IMAGENET  # "imagenet" (packaged) or a text file of class names, one a line
    min_count: PositiveInt = 100  # captions a candidate concept must occur in
    n_strata: PositiveInt = 10
    per_stratum: PositiveInt = 100  # pairs per PMI stratum
    images_per_caption: PositiveInt = 1
    chunk: PositiveInt = 64  # pairs per unit of work (resume and shard granularity)
    max_reject_share: Share = 0.5  # of pairs left without a valid caption, before the run fails
    captions: CaptionConfig = field(default_factory=CaptionConfig)
    flux: FluxConfig = field(default_factory=FluxConfig)


@dataclass(frozen=True)
class Selection:
    pairs: list[Pair]
    classes: list[str]
    summary: dict


def selection(table: PMITable, config: GenPairsConfig) -> Selection:
    """The run's pairs, every class name and what was filtered out on the way (counts by reason)."""
    rejects = Rejects()
    names = read_classes(config.classes)
    classes = class_concepts(names, table, rejects)
    candidates = nameable_concepts(table.names, config.min_count, list(table.counts), rejects)
    pairs = select_pairs(table, classes, candidates, config.n_strata, config.per_stratum, config.seed)
    if not pairs:
        raise UserError(
            f"no pairs: {len(classes)} classes and {len(candidates)} candidate concepts ({rejects.as_dict()})"
        )
    strata = strata_summary(
        Pairs([p.label for p in pairs], [p.concept for p in pairs],
              np.array([p.pmi for p in pairs]), np.array([p.stratum for p in pairs]))
    )  # fmt: skip
    summary = {"classes_in_vocabulary": len(classes), "candidates": len(candidates), "pairs": len(pairs),
               "rejects": rejects.as_dict(), "strata": strata}  # fmt: skip
    log.info("selected %d pairs over %d strata (%s)", len(pairs), len(strata), rejects.as_dict())
    return Selection(pairs, names, summary)


def genpairs(
    pmi: str,
    out: str,
    config: GenPairsConfig = GenPairsConfig(),
    shard: Shard | None = None,
    work_dir: str | Path | None = None,
    captioner: Callable[[], Captioner] | None = None,
    painter: Callable[[], Painter] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Build this shard's part of the set into ``out`` (local or s3://); return its metrics.

    ``captioner``/``painter`` make the models (default: load ``config.captions``/``config.flux``);
    they are called only when a chunk is left to do.
    """
    shard, pmi, out = shard or Shard(), str(pmi), str(out)
    table = PMITable.load(pmi)
    chosen = selection(table, config)
    fingerprint = {
        "pmi": table.header,
        "config": dataclasses.asdict(config),
        "shard": dataclasses.asdict(shard),
    }
    fingerprint["config"]["captions"].pop("device")  # the run may resume on another node
    fingerprint["config"]["flux"].pop("device")
    work = Work(work_folder(work_dir, out, "genpairs", shard), fingerprint)
    models: dict = {}

    def process(items: range) -> tuple[list[dict], Rejects]:
        if not models:
            models["captioner"] = (captioner or (lambda: LLMCaptioner.load(config.captions, config.seed)))()
            models["painter"] = (painter or (lambda: FluxPainter.load(config.flux)))()
        return make_items([chosen.pairs[i] for i in items], models["captioner"], models["painter"], table,
                          work.images, config)  # fmt: skip

    chunks = shard.chunks(len(chosen.pairs), config.chunk)
    items, rejects, resumed = run_chunks(work, chunks, process, after_chunk)
    n_pairs = sum(len(r) for _, r in chunks)
    missing = rejects.counts["pair_without_caption"]
    if n_pairs and missing / n_pairs > config.max_reject_share:
        raise UserError(f"genpairs: {missing} of {n_pairs} pairs got no valid caption ({rejects.as_dict()}); "
                        f"first: {'; '.join(rejects.examples)}")  # fmt: skip
    header = {
        "name": "genpairs",
        "classes": chosen.classes,
        "seed": config.seed,
        "pmi_table": {"path": pmi, **table.header},
        "selection": chosen.summary,
        "strata": chosen.summary["strata"],
        "generator": {
            "captions": config.captions.model,
            "images": config.flux.model,
            "size": config.flux.size,
            "steps": config.flux.steps,
            "guidance": config.flux.guidance,
        },
        "shard": f"{shard.index}/{shard.count}",
    }
    metrics = {"n": len(items), "pairs": n_pairs, "pairs_captioned": n_pairs - missing,
               "chunks": len(chunks), "chunks_resumed": resumed,
               **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
    write_evalset(out, items, SCHEMA, work.images, header, metrics)
    shutil.rmtree(work.folder)
    return metrics


def make_items(
    pairs: list[Pair],
    captioner: Captioner,
    painter: Painter,
    table: PMITable,
    images: Path,
    config: GenPairsConfig,
) -> tuple[list[dict], Rejects]:
    """Captions and images of some pairs: the items' rows, images written into ``images``."""
    rejects = Rejects()
    captions = choose(pairs, captioner.candidates(pairs), table, rejects)
    rows = []
    for pair, caption in zip(pairs, captions, strict=True):
        for k in range(config.images_per_caption if caption else 0):
            item_id = f"{pair.pair_id}-{k}"
            rows.append({"id": item_id, "image": f"images/{item_id}.png", "label": pair.label,
                         "accessory": pair.concept, "pmi": pair.pmi, "stratum": pair.stratum,
                         "caption": caption, "seed": image_seed(config.seed, pair.pair_id, k),
                         "pair_id": pair.pair_id})  # fmt: skip
    painted = painter.paint([r["caption"] for r in rows], [r["seed"] for r in rows])
    for row, image in zip(rows, painted, strict=True):
        image.save(images / Path(row["image"]).name)
    return rows, rejects
