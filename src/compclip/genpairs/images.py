"""Images for captions: FLUX.1-dev through diffusers, batched, one recorded seed per image.

Guidance is passed to the pipeline (FLUX.1-dev takes it as the distilled guidance embedding). The
seed of an image is a hash of the run's seed, its item id and its index among the item's images,
so an image is the same whatever batch or shard it was painted in (up to the floating point
differences of batch composition on a GPU).
"""

from __future__ import annotations

import logging
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from compclip.config import Checked, NonNegativeFloat, PositiveInt
from compclip.errors import UserError
from compclip.negatives.llm import torch_device
from compclip.storage import local_dir

log = logging.getLogger(__name__)

DEFAULT_FLUX = "black-forest-labs/FLUX.1-dev"


@dataclass(frozen=True)
class FluxConfig(Checked):
    model: str = DEFAULT_FLUX  # hub name, local folder or s3:// URI
    size: PositiveInt = 512  # height and width in pixels
    steps: PositiveInt = 28
    guidance: NonNegativeFloat = 3.5
    max_sequence_length: PositiveInt = 512  # T5 tokens of the prompt
    batch_size: PositiveInt = 4  # images per pipeline call
    dtype: str = "bfloat16"
    device: str = "auto"


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
        self.pipeline, self.config = pipeline, config

    @classmethod
    def load(cls, config: FluxConfig) -> FluxPainter:
        """Load the pipeline from a hub name, a local folder or an s3:// URI."""
        import torch
        from diffusers import FluxPipeline

        device = torch_device(config.device)
        log.info("loading %s on %s (%s)", config.model, device, config.dtype)
        remote = config.model.startswith("s3://")
        with local_dir(config.model) if remote else nullcontext(config.model) as folder:
            try:
                pipeline = FluxPipeline.from_pretrained(str(folder), dtype=getattr(torch, config.dtype))
            except OSError as err:
                raise UserError(f"cannot load FLUX pipeline {config.model!r}: {err}") from err
        pipeline.set_progress_bar_config(disable=True)
        return cls(pipeline.to(device), config)

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
