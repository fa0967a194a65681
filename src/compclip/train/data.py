"""Training data: images decoded once into a uint8 cache, captions and their hard negatives tokenised.

Inputs are a dataset folder (``captions.parquet`` with ``id``, ``caption``, ``image``: a PNG in an
image shard, :mod:`compclip.shards`, or a path relative to the folder) and, for NegCLIP and DeGLA,
a ``negatives.json`` (a list of ``{"image_id", "original", "enhanced": [...], "types": [...]}``),
whose negatives belong to the one caption ``(image_id, original)``: a row's ``id`` and
``caption``, so the five captions of a COCO image each train against their own. Bad records are
skipped and counted; each epoch draws K of a caption's negatives, and augmentation
(RandomResizedCrop + normalisation) runs on whole batches with torch ops, seeded by the step, so a
resumed run sees the same negatives and crops, and so does a run split over any number of
processes (each sample's draw is its own).
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from compclip.config import Checked, PositiveInt, Range, Share
from compclip.dataset import image_key, read_images, read_rows
from compclip.errors import UserError
from compclip.negatives.io import caption_key, read_negatives
from compclip.negatives.types import Record
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

CropShare = Annotated[float, Range(0, 1, open_low=True)]  # share of an image a random crop keeps


@dataclass(frozen=True)
class DataConfig(Checked):
    """How batches are built; the defaults are the paper's."""

    batch_size: PositiveInt = 256
    k_negatives: PositiveInt = 4
    pad: bool = False  # repeat available negatives when an image has fewer than K
    redraw: bool = True  # draw an image's K negatives anew each epoch (False: once per run)
    crop_scale: tuple[CropShare, CropShare] = (0.9, 1.0)
    max_reject_share: Share = 0.05


@dataclass
class Pairs:
    """Tokenised training pairs; ``images[image_index[i]]`` belongs to caption ``i``."""

    images: torch.Tensor  # M x 3 x S x S uint8
    image_index: torch.Tensor  # N
    tokens: torch.Tensor  # N x L
    negatives: torch.Tensor | None  # every valid negative of every pair, pair-major: R x L
    negative_offsets: torch.Tensor | None  # N + 1: pair i's are rows offsets[i] .. offsets[i+1]-1
    ids: list[str]
    rejects: Rejects


class PairDataset(Dataset):
    """Items ``{"images": 3xSxS uint8, "text": L, ["negatives": KxL]}``.

    A pair's K negatives are a seeded draw from all its valid ones (:func:`pick_negatives`), made
    anew each epoch (:meth:`set_epoch`) when ``config.redraw``, as NegCLIP's loader does, else
    once per run; the draw depends only on seed, image and epoch, so a resumed run sees the same.
    """

    def __init__(self, pairs: Pairs, config: DataConfig = DataConfig(), seed: int = 0) -> None:
        self.pairs, self.config, self.seed = pairs, config, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs.tokens)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        p = self.pairs
        item = {"images": p.images[p.image_index[i]], "text": p.tokens[i]}
        if p.negatives is not None:
            start, end = int(p.negative_offsets[i]), int(p.negative_offsets[i + 1])
            draw = self.epoch if self.config.redraw else 0
            rows = pick_negatives(p.ids[i], end - start, self.config.k_negatives, self.seed, draw)
            item["negatives"] = p.negatives[[start + r for r in rows]]
        return item


def image_shape(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(height, width)`` of an image size as open_clip's preprocess config gives it: a side or a pair."""
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def decode_image(data: bytes, size: int | tuple[int, int]) -> torch.Tensor:
    """An encoded image resized (bicubic) to cover ``size`` (:func:`image_shape`), centre-cropped to
    it, uint8 CHW. Raises OSError or ValueError when it is not a decodable image."""
    height, width = image_shape(size)
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        scale = max(height / image.height, width / image.width)
        w, h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
        image = image.resize((w, h), Image.Resampling.BICUBIC)
        left, top = (w - width) // 2, (h - height) // 2
        image = image.crop((left, top, left + width, top + height))
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)


def decode_images(
    images: Iterable[tuple[str, bytes]], size: int | tuple[int, int], total: int = 0
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Decode each ``(key, bytes)`` once (:func:`decode_image`); returns the decoded images and,
    for the ones that fail, the error."""
    decoded, failed = {}, {}
    for key, data in tqdm(
        images, desc="decode images", unit="img", total=total or None, disable=total < 1000
    ):
        try:
            decoded[key] = decode_image(data, size)
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            failed[key] = str(err)
    return decoded, failed


def usable_negatives(
    records: list[Record], source: str, rejects: Rejects
) -> dict[tuple[str, str], list[str]]:
    """Each caption's (:func:`~compclip.negatives.io.caption_key`) negatives that are neither empty
    nor the caption itself; the others are counted as ``no valid <type> negative``."""
    usable = {}
    for record in records:
        original = record.original.strip()
        kept = usable[caption_key(record.image_id, original)] = []
        for negative, kind in zip(record.enhanced, record.types, strict=True):
            if not negative.strip() or negative.strip() == original:
                rejects.add(f"no valid {kind} negative", f"{source}: {record.image_id}")
            else:
                kept.append(negative)
    return usable


def pick_negatives(image_id: str, available: int, k: int, seed: int, draw: int = 0) -> list[int]:
    """Indices of K of an image's ``available`` (> 0) negatives: a choice seeded by
    ``(seed, image_id, draw)`` when there are more, all of them (repeated) when fewer."""
    if available > k:
        rng = np.random.default_rng([seed, zlib.crc32(image_id.encode()), draw])
        return sorted(rng.choice(available, k, replace=False).tolist())
    return [i % available for i in range(k)]


def load_pairs(
    folder: str | Path,
    tokenizer: Any,
    image_size: int | tuple[int, int],
    config: DataConfig = DataConfig(),
    negatives: str | None = None,
) -> Pairs:
    """Read, validate and tokenise a dataset folder (sharded or a folder of images) and its negatives
    file, each a local path or s3:// URI, into :class:`Pairs`; the images are streamed, not downloaded
    first. An image that cannot be read or decoded is a reject of every row that uses it."""
    folder = str(folder)
    rejects = Rejects()
    rows = read_rows(folder, rejects)
    n_rows = len(rows) + rejects.total
    unreadable: dict[str, str] = {}
    n_images = len({image_key(r) for r in rows})
    images, failed = decode_images(read_images(folder, rows, unreadable), image_size, n_images)
    for row in rows:
        key = image_key(row)
        if key in unreadable:
            rejects.add(unreadable[key], f"{folder}/{key}")
        elif key in failed:
            rejects.add("image undecodable", f"{folder}/{key}: {failed[key]}")
    rows = [r for r in rows if image_key(r) in images]
    rejects.check(n_rows, config.max_reject_share, str(folder))
    available = None
    if negatives is not None:
        rows, available = _attach_negatives(rows, str(negatives), config, rejects)
    if not rows:
        raise UserError(f"{folder}: no usable image-caption pairs")
    paths = sorted({image_key(r) for r in rows})
    position = {p: i for i, p in enumerate(paths)}
    tokens = tokenizer([r["caption"] for r in rows])
    negatives = offsets = None
    if available is not None:
        negatives = tokenizer([n for negs in available for n in negs])
        offsets = torch.tensor([0, *itertools.accumulate(len(negs) for negs in available)])
    log.info(
        "read %d pairs over %d images from %s; rejected %s", len(rows), len(paths), folder, rejects.as_dict()
    )
    return Pairs(
        images=torch.stack([images[p] for p in paths]),
        image_index=torch.tensor([position[image_key(r)] for r in rows]),
        tokens=tokens,
        negatives=negatives,
        negative_offsets=offsets,
        ids=[r["id"] for r in rows],
        rejects=rejects,
    )


def _attach_negatives(
    rows: list[dict[str, str]], uri: str, config: DataConfig, rejects: Rejects
) -> tuple[list[dict[str, str]], list[list[str]]]:
    """The rows with enough valid negatives of their own caption (K, or one when ``config.pad``),
    and those negatives; a caption's negatives never go to another caption of its image."""
    available = usable_negatives(read_negatives(uri, rejects, known_types=None), uri, rejects)
    captions = {caption_key(r["id"], r["caption"]) for r in rows}
    ids = {r["id"] for r in rows}
    for image_id, _ in (key for key in available if key not in captions):
        why = "original matches no caption of its image" if image_id in ids else "for an unknown image_id"
        rejects.add(f"negatives {why}", f"{uri}: {image_id}")
    kept, kept_negatives, lacking = [], [], []
    for row in rows:
        negatives = available.get(caption_key(row["id"], row["caption"]), [])
        if len(negatives) < (1 if config.pad else config.k_negatives):
            lacking.append(row["id"])
            continue
        kept.append(row)
        kept_negatives.append(negatives)
    if lacking and not config.pad:
        raise UserError(
            f"{len(lacking)} of {len(rows)} captions have fewer than K={config.k_negatives} valid "
            f"negatives in {uri} (first: {', '.join(lacking[:3])}); generate more, lower k_negatives, or pad "
            "(--pad repeats the available ones)"
        )
    rejects.add("caption without any valid negative", "", len(lacking))
    return kept, kept_negatives


class BatchAugment:
    """RandomResizedCrop (area ``scale``, aspect ``ratio``) + normalisation on a uint8 batch.

    One affine resampling per image (``grid_sample``), crop boxes drawn from a generator seeded
    by ``(seed, step)`` for every sample of the step's global batch, of which a process crops its
    own slice: crops depend neither on global RNG state, nor on resuming, nor on the process count.
    """

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        scale: tuple[float, float] = (0.9, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        seed: int = 0,
    ) -> None:
        self.mean = torch.tensor(mean).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std).view(1, 3, 1, 1) * 255
        self.scale, self.ratio, self.seed = scale, ratio, seed

    def __call__(self, images: torch.Tensor, step: int, process: int = 0, processes: int = 1) -> torch.Tensor:
        """Crop ``images``, slice ``process`` of ``processes`` equal slices of the global batch."""
        n = len(images)
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + step) * 4096)
        u = torch.rand(n * processes, 4, generator=gen, dtype=torch.float64)[process * n : (process + 1) * n]
        area = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        log_ratio = math.log(self.ratio[0]) + (math.log(self.ratio[1]) - math.log(self.ratio[0])) * u[:, 1]
        w = (area * log_ratio.exp()).sqrt().clamp(max=1.0)
        h = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 1, 1] = w, h
        theta[:, 0, 2] = (1 - w) * (2 * u[:, 2] - 1)
        theta[:, 1, 2] = (1 - h) * (2 * u[:, 3] - 1)
        pixels = images.float()
        grid = F.affine_grid(theta.float(), list(pixels.shape), align_corners=False).to(images.device)
        cropped = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return (cropped - self.mean.to(images.device)) / self.std.to(images.device)
