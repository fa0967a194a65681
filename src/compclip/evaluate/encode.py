"""The evaluator's data path: images and texts to normalised embeddings, the same code on CPU and GPU.

Images are decoded with PIL (optionally cropped to a box) and the model's eval ``preprocess`` in
DataLoader workers, pinned on CUDA; a missing or undecodable image is counted in
:class:`~compclip.rejects.Rejects`, never fatal on its own. Texts are tokenised and embedded
once per unique string.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from compclip.config import Checked, Count, PositiveInt
from compclip.cpus import torch_threads
from compclip.dataset import SHARD, image_key, read_images
from compclip.devices import resolve_device
from compclip.errors import UserError
from compclip.models import ModelBundle
from compclip.models.text import encode_text
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
BAD_IMAGE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@dataclass(frozen=True)
class RuntimeConfig(Checked):
    """Where and how the model runs."""

    device: str = "auto"
    batch_size: PositiveInt = 64
    precision: str = "fp32"
    workers: Count = 2


@dataclass(frozen=True)
class ImageRef:
    """An image file (or, read from an image shard, its bytes ``data``; ``path`` then names it) and an
    optional crop box ``(x, y, w, h)`` in pixels."""

    path: str
    box: tuple[float, float, float, float] | None = None
    data: bytes | None = None


def image_refs(root: str | Path, rows: Sequence[dict], rejects: Rejects) -> list[ImageRef | None]:
    """An :class:`ImageRef` per row: ``image`` a file under ``root``, or, when the row has a ``shard``,
    a member of that image shard of ``root``, read with every other sharded one in one pass
    (:func:`compclip.dataset.read_images`). An image a shard cannot give (no index, truncated, not
    in it) is None, counted under the shard's reason (:mod:`compclip.shards` logs one line a shard)."""
    sharded = [row for row in rows if row.get(SHARD)]
    failed: dict[str, str] = {}
    data = dict(read_images(str(root), sharded, failed)) if sharded else {}
    refs: list[ImageRef | None] = []
    for row in rows:
        if not row.get(SHARD):
            refs.append(ImageRef(os.path.join(root, row["image"])))
            continue
        key = image_key(row)
        if key not in data:
            rejects.add(failed.get(key, "image missing"), f"{root}/{key}")
        refs.append(ImageRef(f"{root}/{key}", data=data[key]) if key in data else None)
    return refs


def existing(refs: Sequence[ImageRef], rejects: Rejects, source: str, root: str | Path) -> np.ndarray:
    """Mask of refs whose file exists; missing ones are counted, and none existing is an error."""
    found = np.array([ref.data is not None or os.path.isfile(ref.path) for ref in refs], dtype=bool)
    for ref in (r for r, ok in zip(refs, found, strict=True) if not ok):
        rejects.add("missing_image", ref.path)
    if len(refs) and not found.any():
        raise UserError(
            f"{source}: none of the {len(refs)} images exist under the image root {root} "
            f"(first expected: {refs[0].path}); does the image root match the annotations?"
        )
    return found


class ImageFiles(Dataset):
    """Decoded, cropped and preprocessed images; ``None`` for a file PIL cannot read."""

    def __init__(self, refs: Sequence[ImageRef], preprocess) -> None:
        self.refs = refs
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None]:
        ref = self.refs[index]
        try:
            with Image.open(ref.path if ref.data is None else io.BytesIO(ref.data)) as image:
                image = image.convert("RGB")
            if ref.box is not None:
                x, y, w, h = ref.box
                image = image.crop((x, y, x + w, y + h))
            return index, self.preprocess(image)
        except BAD_IMAGE:
            return index, None


def collate(batch: list[tuple[int, torch.Tensor | None]]) -> tuple[list[int], list[int], torch.Tensor | None]:
    """(good indices, bad indices, stacked good tensors)."""
    good = [(i, t) for i, t in batch if t is not None]
    bad = [i for i, t in batch if t is None]
    tensors = torch.stack([t for _, t in good]) if good else None
    return [i for i, _ in good], bad, tensors


class Encoder:
    """A model placed on a device, embedding images and texts under the chosen precision."""

    def __init__(self, bundle: ModelBundle, runtime: RuntimeConfig) -> None:
        if runtime.precision not in PRECISIONS:
            raise UserError(f"unknown precision {runtime.precision!r}; use one of {', '.join(PRECISIONS)}")
        self.runtime = runtime
        self.device = resolve_device(runtime.device)
        if self.device.type == "cpu":
            torch.set_num_threads(torch_threads())
        self.model = bundle.model.to(self.device, memory_format=torch.channels_last).eval()
        self.preprocess = bundle.preprocess
        self.tokenizer = bundle.tokenizer

    def autocast(self) -> contextlib.AbstractContextManager:
        dtype = PRECISIONS[self.runtime.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def loader(self, refs: Sequence[ImageRef]) -> DataLoader:
        return DataLoader(
            ImageFiles(refs, self.preprocess), batch_size=self.runtime.batch_size,
            num_workers=self.runtime.workers, collate_fn=collate, pin_memory=self.device.type == "cuda",
        )  # fmt: skip

    @torch.inference_mode()
    def images(self, refs: Sequence[ImageRef], rejects: Rejects) -> tuple[np.ndarray, np.ndarray]:
        """Normalised embeddings (rows of unreadable images are zero) and the mask of readable ones."""
        out: np.ndarray | None = None
        ok = np.zeros(len(refs), dtype=bool)
        batches = self.loader(refs)
        for good, bad, tensors in tqdm(batches, desc="images", unit="batch", leave=False):
            for i in bad:
                rejects.add("corrupt_image", refs[i].path)
            if tensors is None:
                continue
            with self.autocast():
                features = self.model.encode_image(tensors.to(self.device, non_blocking=True))
            features = F.normalize(features.float(), dim=-1).cpu().numpy()
            if out is None:
                out = np.zeros((len(refs), features.shape[1]), dtype=np.float32)
            out[good] = features
            ok[good] = True
        log.info("embedded %d of %d images", ok.sum(), len(refs))
        return (out if out is not None else np.zeros((len(refs), 0), dtype=np.float32)), ok

    @torch.inference_mode()
    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of ``texts``, each unique string embedded once, in sorted order
        (neighbours share prefixes, which :func:`~compclip.models.text.encode_text` computes once)."""
        unique = sorted(dict.fromkeys(texts))
        size = self.runtime.batch_size
        chunks = []
        for start in tqdm(range(0, len(unique), size), total=math.ceil(len(unique) / size), desc="texts",
                          unit="batch", leave=False):  # fmt: skip
            tokens = self.tokenizer(unique[start : start + size]).to(self.device)
            with self.autocast():
                features = encode_text(self.model, tokens)
            chunks.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        table = np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)
        index = {text: i for i, text in enumerate(unique)}
        return table[[index[t] for t in texts]]
