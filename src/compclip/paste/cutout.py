"""Cut an accessory out of its background and paste it onto a base image (pure numpy).

The mask is the image's alpha channel when it has one, else every pixel farther than
``tolerance`` (max over channels) from white: accessories are photographed or generated on white.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Cutout:
    rgb: np.ndarray  # (h, w, 3) uint8, cropped to the mask's bounding box
    alpha: np.ndarray  # (h, w) float in [0, 1]


def cut_out(image: Image.Image, tolerance: int) -> Cutout | None:
    """The accessory cropped to its mask; None when the mask is empty (all background)."""
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"))
        rgb, alpha = rgba[..., :3], rgba[..., 3] / 255.0
    else:
        rgb = np.asarray(image.convert("RGB"))
        alpha = ((255 - rgb.astype(np.int16)).max(axis=2) > tolerance).astype(np.float64)
    ys, xs = np.nonzero(alpha > 0)
    if len(ys) == 0:
        return None
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return Cutout(np.ascontiguousarray(rgb[box]), alpha[box])


def pasted_size(cutout: Cutout, base: tuple[int, int], area: float) -> tuple[int, int]:
    """(width, height) of the cutout scaled so its box covers ``area`` of ``base`` = (width, height),
    keeping its aspect ratio, shrunk further if a side would not fit."""
    h, w = cutout.alpha.shape
    scale = math.sqrt(area * base[0] * base[1] / (w * h))
    scale = min(scale, base[0] / w, base[1] / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def paste(
    base: Image.Image, cutout: Cutout, area: float, rng: np.random.Generator
) -> tuple[Image.Image, tuple]:
    """``base`` with the cutout alpha-blended at a random position inside it; returns the image and
    the box ``(x, y, width, height)``."""
    width, height = pasted_size(cutout, base.size, area)
    rgb = np.asarray(Image.fromarray(cutout.rgb).resize((width, height), Image.Resampling.BICUBIC), float)
    alpha = (
        np.asarray(
            Image.fromarray((cutout.alpha * 255).astype(np.uint8)).resize(
                (width, height), Image.Resampling.BILINEAR
            ),
            float,
        )[..., None]
        / 255.0
    )
    x = int(rng.integers(base.size[0] - width + 1))
    y = int(rng.integers(base.size[1] - height + 1))
    out = np.asarray(base.convert("RGB"), dtype=float).copy()
    region = out[y : y + height, x : x + width]
    out[y : y + height, x : x + width] = alpha * rgb + (1 - alpha) * region
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)), (x, y, width, height)
