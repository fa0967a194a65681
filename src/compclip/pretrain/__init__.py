"""From-scratch CLIP pretraining of a tiny open_clip model: compclip.train's loop with method "clip"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from compclip.config import Checked, Count, PositiveFloat, PositiveInt, Share
from compclip.models import create_model
from compclip.train import DataConfig, OptimConfig, TrainConfig, run
from compclip.train.data import CropShare


@dataclass(frozen=True)
class PretrainOptim(OptimConfig):
    """:class:`OptimConfig` with pretraining's defaults: a higher learning rate, a short warm-up."""

    lr: PositiveFloat = 1e-3
    warmup_steps: Count = 20
    epochs: PositiveInt = 10


@dataclass(frozen=True)
class PretrainData(Checked):
    """The :class:`DataConfig` settings a from-scratch run uses (it has no negatives)."""

    batch_size: PositiveInt = 128
    crop_scale: tuple[CropShare, CropShare] = (0.8, 1.0)
    max_reject_share: Share = 0.05


@dataclass(frozen=True)
class PretrainConfig(Checked):
    """Pretraining settings, shaped as :class:`TrainConfig` (``optim``, ``data``); no EMA teacher."""

    # the flat keys of earlier releases, refused with their new place (compclip.config.from_dict)
    MOVED: ClassVar[dict[str, str]] = {
        **{k: f"optim.{k}" for k in ("epochs", "max_steps", "lr", "warmup_steps", "weight_decay")},
        **{k: f"data.{k}" for k in ("batch_size", "crop_scale", "max_reject_share")},
    }

    model: str = "compclip-tiny-rn"
    seed: int = 0
    threads: PositiveInt | None = None
    checkpoint_every: Count = 200
    optim: PretrainOptim = field(default_factory=PretrainOptim)
    data: PretrainData = field(default_factory=PretrainData)

    def train_config(self) -> TrainConfig:
        data = DataConfig(
            batch_size=self.data.batch_size,
            crop_scale=self.data.crop_scale,
            max_reject_share=self.data.max_reject_share,
        )
        return TrainConfig(
            method="clip",
            seed=self.seed,
            threads=self.threads,
            checkpoint_every=self.checkpoint_every,
            optim=self.optim,
            data=data,
        )


def pretrain(
    data: str, out: str, config: PretrainConfig = PretrainConfig(), *, work_dir: str | None = None
) -> dict:
    """Train ``config.model`` from random weights (seeded) on a dataset folder; returns the metrics.

    ``data``, ``out`` and ``work_dir`` are URIs (local or s3://), as for :func:`compclip.train.run`.
    """
    bundle = create_model(config.model, seed=config.seed)
    return run(bundle, data, None, out, config.train_config(), work_dir=work_dir)
