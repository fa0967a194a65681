"""What a training run computes: its config and the content of its inputs, as sha256 digests.

A checkpoint carries its run's fingerprint, and a resume with any other config, data, negatives or
base model is refused. Inputs are hashed as the trainer sees them (decoded images, tokenised
captions and negatives, the base model's initial weights), so the same data read from a local
folder or from S3 gives one fingerprint and any change to an image, caption, negative or weight
gives another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from compclip.train.data import Pairs
    from compclip.train.loop import TrainConfig

# How a run is executed, not what it computes: these may change between a run and its resume.
EXECUTION = ("threads", "checkpoint_every", "keep_checkpoints")


def tensors_sha256(parts: Iterable[tuple[str, torch.Tensor | bytes]]) -> str:
    """sha256 over named tensors (dtype, shape and bytes) and byte strings, in the given order."""
    digest = hashlib.sha256()
    for name, value in parts:
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
        else:
            digest.update(f"{name}:bytes:{len(value)}\n".encode())
            digest.update(value)
    return digest.hexdigest()


def run_fingerprint(config: TrainConfig, model: torch.nn.Module, pairs: Pairs) -> dict:
    """``config`` (a TrainConfig, less :data:`EXECUTION`) and the digests of ``base_model`` (its
    weights before training), ``data`` (images, captions, ids) and ``negatives`` (None without)."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in EXECUTION}
    data = [("images", pairs.images), ("image_index", pairs.image_index), ("tokens", pairs.tokens)]
    data.append(("ids", "\n".join(pairs.ids).encode()))
    negatives = None
    if pairs.negatives is not None:
        negatives = tensors_sha256([("negatives", pairs.negatives), ("offsets", pairs.negative_offsets)])
    return {
        "config": json.loads(json.dumps(settings)),  # tuples as lists, as read back from JSON
        "base_model": tensors_sha256(sorted(model.state_dict().items())),
        "data": tensors_sha256(data),
        "negatives": negatives,
    }


def differences(saved: dict, current: dict) -> list[str]:
    """What differs between two fingerprints: the inputs by name, then each config key (dotted)."""
    inputs = [name for name in ("base_model", "data", "negatives") if saved.get(name) != current.get(name)]
    before, after = _flat(saved.get("config", {})), _flat(current.get("config", {}))
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return [*inputs, *(f"{k} ({before.get(k)!r} -> {after.get(k)!r})" for k in keys)]


def _flat(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
