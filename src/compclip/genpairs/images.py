"""The image phase of GenPairs: FLUX.1-dev through diffusers paints each caption, one recorded seed per image.

Settings follow the released code (``generate_images/generate_images.py``): 512 px, 28 steps,
guidance 5.0 (passed as ``guidance_scale``, which FLUX.1-dev takes as its distilled guidance
embedding), 512 T5 tokens. ``steps`` left empty takes the model's own: 28 for a guidance-distilled
transformer (FLUX.1-dev), 4 for one without a guidance embedding (FLUX.1-schnell). ``offload``
moves each model to the GPU only while it runs (diffusers' model CPU offload), so T5-XXL stays in
CPU memory while the transformer denoises. The seed of an image is a hash of the run's seed, its
item id and its index among the item's images, so an image is the same whatever batch or shard it
was painted in (up to the floating point differences of batch composition on a GPU).

``image_stage(captions, out, config, shard)`` paints shard ``i/n`` of a captions file (``compclip
genpairs captions``) into a zero-shot evaluation set; it holds only FLUX, in resumable chunks.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from PIL import Image

from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.config import Checked, NonNegativeFloat, PositiveInt
from compclip.devices import resolve_device
from compclip.errors import UserError
from compclip.evalsets.generated import write_evalset
from compclip.genpairs.pairs import read_table_file
from compclip.rejects import Rejects
from compclip.storage import local_dir

log = logging.getLogger(__name__)

DEFAULT_FLUX = "black-forest-labs/FLUX.1-dev"
GUIDED_STEPS, DISTILLED_STEPS = 28, 4  # FLUX.1-dev's and FLUX.1-schnell's step counts
SCHEMA = pa.schema(
    [("id", pa.string()), ("image", pa.string()), ("label", pa.string()), ("accessory", pa.string()),
     ("pmi", pa.float64()), ("stratum", pa.int64()), ("caption", pa.string()), ("seed", pa.int64()),
     ("pair_id", pa.string())]
)  # fmt: skip


@dataclass(frozen=True)
class FluxConfig(Checked):
    model: str = DEFAULT_FLUX  # hub name, local folder or s3:// URI
    size: PositiveInt = 512  # height and width in pixels
    steps: PositiveInt | None = None  # None: 28 with a guidance embedding (dev), 4 without (schnell)
    guidance: NonNegativeFloat = 5.0
    max_sequence_length: PositiveInt = 512  # T5 tokens of the prompt
    batch_size: PositiveInt = 4  # images per pipeline call
    offload: bool = False  # each model on the GPU only while it runs (peak: the transformer alone)
    dtype: str = "bfloat16"
    device: str = "auto"


@dataclass(frozen=True)
class ImagesConfig(Checked):
    images_per_caption: PositiveInt = 1
    chunk: PositiveInt = 64  # captioned pairs per unit of work (resume and shard granularity)
    flux: FluxConfig = field(default_factory=FluxConfig)


class Painter(Protocol):
    def paint(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        """One RGB image per prompt, each from its own seed."""
        ...


def image_seed(seed: int, item_id: str, k: int) -> int:
    """The recorded seed of image ``k`` of an item (a 31-bit hash)."""
    return zlib.crc32(f"{seed}:{item_id}:{k}".encode()) & 0x7FFFFFFF


class FluxPainter:
    """A diffusers ``FluxPipeline`` behind the :class:`Painter` interface."""

    def __init__(self, pipeline: Any, config: FluxConfig) -> None:
        self.pipeline = pipeline
        guided = pipeline.transformer.config.guidance_embeds
        self.config = dataclasses.replace(
            config, steps=config.steps or (GUIDED_STEPS if guided else DISTILLED_STEPS)
        )

    @classmethod
    def load(cls, config: FluxConfig) -> FluxPainter:
        """Load the pipeline from a hub name, a local folder or an s3:// URI."""
        import torch
        from diffusers import FluxPipeline

        device = resolve_device(config.device)
        log.info(
            "loading %s on %s (%s%s)", config.model, device, config.dtype, ", offloaded" * config.offload
        )
        remote = config.model.startswith("s3://")
        with local_dir(config.model) if remote else nullcontext(config.model) as folder:
            try:
                pipeline = FluxPipeline.from_pretrained(str(folder), dtype=getattr(torch, config.dtype))
            except OSError as err:
                raise UserError(f"cannot load FLUX pipeline {config.model!r}: {err}") from err
        pipeline.set_progress_bar_config(disable=True)
        if config.offload:
            pipeline.enable_model_cpu_offload(device=device)
        else:
            pipeline.to(device)
        return cls(pipeline, config)

    def paint(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        import torch

        c, images = self.config, []
        for start in range(0, len(prompts), c.batch_size):
            batch = slice(start, start + c.batch_size)
            generators = [torch.Generator("cpu").manual_seed(s) for s in seeds[batch]]
            with torch.inference_mode():
                out = self.pipeline(
                    prompts[batch],
                    height=c.size,
                    width=c.size,
                    num_inference_steps=c.steps,
                    guidance_scale=c.guidance,
                    max_sequence_length=c.max_sequence_length,
                    generator=generators,
                    output_type="pil",
                )
            images.extend(image.convert("RGB") for image in out.images)
        return images


def paint_rows(rows: list[dict], painter: Painter, images: Path) -> None:
    """Paint each row's caption with its seed into ``images`` (named after the row's image)."""
    painted = painter.paint([r["caption"] for r in rows], [r["seed"] for r in rows])
    for row, image in zip(rows, painted, strict=True):
        image.save(images / Path(row["image"]).name)


def item_rows(pairs: list[dict], images_per_caption: int, seed: int) -> list[dict]:
    """The evaluation set's rows of some captioned pairs, ``images_per_caption`` each."""
    return [
        {"id": f"{p['pair_id']}-{k}", "image": f"images/{p['pair_id']}-{k}.png", "label": p["label"],
         "accessory": p["concept"], "pmi": p["pmi"], "stratum": p["stratum"], "caption": p["caption"],
         "seed": image_seed(seed, p["pair_id"], k), "pair_id": p["pair_id"]}
        for p in pairs for k in range(images_per_caption)
    ]  # fmt: skip


def image_stage(
    captions: str,
    out: str,
    config: ImagesConfig = ImagesConfig(),
    shard: Shard | None = None,
    work_dir: str | Path | None = None,
    painter: Callable[[], Painter] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Paint this shard's chunks of the captioned pairs into the evaluation set ``out``; return metrics.

    ``painter`` makes the model (default: load ``config.flux``), called only when a chunk is left to do.
    """
    shard = shard or Shard()
    table, header = read_table_file(str(captions))
    if "caption" not in table.column_names:
        raise UserError(f"{captions}: a pairs file without captions (run `compclip genpairs captions` first)")
    captioned = [row for row in table.to_pylist() if row["caption"]]
    settings = dataclasses.asdict(config)
    settings["flux"].pop("device")  # the run may resume on another node
    work = Work(work_folder(work_dir, str(out), "genpairs-images", shard),
                {"captions": header, "config": settings, "shard": dataclasses.asdict(shard)})  # fmt: skip
    model: list[Painter] = []

    def process(items: range) -> tuple[list[dict], Rejects]:
        if not model:
            model.append((painter or (lambda: FluxPainter.load(config.flux)))())
        rows = item_rows([captioned[i] for i in items], config.images_per_caption, header["seed"])
        paint_rows(rows, model[0], work.images)
        return rows, Rejects()

    chunks = shard.chunks(len(captioned), config.chunk)
    items, _, resumed = run_chunks(work, chunks, process, after_chunk)
    caption_metrics = header["captions"]["metrics"]
    header = {"name": "genpairs", **{k: v for k, v in header.items() if k != "captions"},
              "generator": {"captions": header["captions"]["settings"], "images": settings},
              "shard": f"{shard.index}/{shard.count}"}  # fmt: skip
    metrics = {"n": len(items), "pairs_painted": sum(len(r) for _, r in chunks), "chunks": len(chunks),
               "chunks_resumed": resumed}  # fmt: skip
    if shard.index == 0:  # the caption phase's counts, once in a merge of the shards
        metrics.update({k: v for k, v in caption_metrics.items() if k.startswith(("pairs", "rejects/"))})
    write_evalset(str(out), items, SCHEMA, work.images, header, metrics)
    work.remove()
    return metrics
