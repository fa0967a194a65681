"""From-scratch CLIP pretraining of a tiny open_clip model: compclip.train's loop with method "clip"."""

from __future__ import annotations

from dataclasses import dataclass

from compclip.config import Checked, Count, NonNegativeFloat, PositiveFloat, PositiveInt, Share
from compclip.models import create_model
from compclip.train import DataConfig, OptimConfig, TrainConfig, run
from compclip.train.data import CropShare


@dataclass(frozen=True)
class PretrainConfig(Checked):
    """Pretraining settings: a higher learning rate than fine-tuning, warm-up, no EMA teacher."""

    model: str = "compclip-tiny-rn"
    seed: int = 0
    epochs: PositiveInt = 10
    max_steps: PositiveInt | None = None
    batch_size: PositiveInt = 128
    lr: PositiveFloat = 1e-3
    warmup_steps: Count = 20
    weight_decay: NonNegativeFloat = 0.1
    crop_scale: tuple[CropShare, CropShare] = (0.8, 1.0)
    threads: PositiveInt | None = None
    checkpoint_every: Count = 200
    max_reject_share: Share = 0.05

    def train_config(self) -> TrainConfig:
        optim = OptimConfig(
            lr=self.lr,
            warmup_steps=self.warmup_steps,
            weight_decay=self.weight_decay,
            epochs=self.epochs,
            max_steps=self.max_steps,
        )
        data = DataConfig(
            batch_size=self.batch_size, crop_scale=self.crop_scale, max_reject_share=self.max_reject_share
        )
        return TrainConfig(
            method="clip",
            seed=self.seed,
            threads=self.threads,
            checkpoint_every=self.checkpoint_every,
            optim=optim,
            data=data,
        )


def pretrain(
    data: str,
    out: str,
    config: PretrainConfig = PretrainConfig(),
    *,
    resume: bool = False,
    checkpoints: str | None = None,
) -> dict:
    """Train ``config.model`` from random weights (seeded) on a dataset folder; returns the metrics.

    ``data``, ``out`` and ``checkpoints`` are URIs (local or s3://), as for :func:`compclip.train.run`.
    """
    bundle = create_model(config.model, seed=config.seed)
    return run(bundle, data, None, out, config.train_config(), resume=resume, checkpoints=checkpoints)
