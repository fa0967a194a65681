"""GenPairs in one go on one machine: select the pairs, caption them, free the LM, paint them.

The three phases are separate stages (:mod:`~compclip.genpairs.pairs`, :mod:`~compclip.genpairs.
captions`, :mod:`~compclip.genpairs.images`) that a pipeline runs as separate tasks: the caption
phase holds only the LM, the image phase only FLUX, so each fits one card. ``genpairs(pmi, out,
config)`` chains them through files in its work folder, releasing the LM before FLUX loads; every
phase resumes from its own finished chunks.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compclip import outputs
from compclip.chunks import Work
from compclip.config import Checked
from compclip.genpairs.captions import CaptionConfig, Captioner, caption_stage
from compclip.genpairs.images import ImagesConfig, Painter, image_stage
from compclip.genpairs.pairs import SelectConfig, select_stage
from compclip.workfolders import join

CAPTIONS = "captions.parquet"


@dataclass(frozen=True)
class GenPairsConfig(Checked):
    select: SelectConfig = field(default_factory=SelectConfig)
    captions: CaptionConfig = field(default_factory=CaptionConfig)
    images: ImagesConfig = field(default_factory=ImagesConfig)


def free_accelerator_memory() -> None:
    """Return the memory of released models to the GPU (the next phase loads another model)."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def genpairs(
    pmi: str,
    out: str,
    config: GenPairsConfig = GenPairsConfig(),
    work_dir: str | Path | None = None,
    captioner: Callable[[], Captioner] | None = None,
    painter: Callable[[], Painter] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """The whole set into ``out`` (local or s3://); return its metrics. ``captioner``/``painter`` make
    the models (default: load them from ``config``); ``after_chunk`` is called after every chunk of
    either model phase."""
    folder = join(work_dir, "genpairs") if work_dir else str(outputs.work_dir(str(out), "genpairs"))
    settings = dataclasses.asdict(config)
    settings["captions"].pop("device"), settings["images"]["flux"].pop("device")  # may resume elsewhere
    # the captions file, once written, is what a resumed run needs (pairs are selected again, alike)
    work = Work(folder, {"pmi": str(pmi), "config": settings}, keep=(CAPTIONS,))  # refuses another run's
    pairs, captions = work.folder / "pairs.parquet", work.folder / CAPTIONS
    select_stage(str(pmi), str(pairs), config.select)
    if not captions.is_file():
        caption_stage(str(pairs), str(captions), config.captions, str(pmi), folder, captioner, after_chunk)
        work.files.push(CAPTIONS)
        free_accelerator_memory()
    metrics = image_stage(str(captions), str(out), config.images, work_dir=folder, painter=painter,
                          after_chunk=after_chunk)  # fmt: skip
    work.remove()
    return metrics
