"""The training stage: data and model in, a model folder with metrics and loss curves out.

:func:`train` fine-tunes any model source (``compclip train``); :func:`run` is shared with
from-scratch pretraining (``compclip pretrain``). The output folder gets the model
(safetensors + open_clip config + manifest, with the training config as provenance),
``metrics.json``, ``losses.jsonl`` (one record per step) and ``losses.png``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from open_clip.model import get_model_preprocess_cfg
from torch.utils.data import DataLoader

from compclip.errors import UserError
from compclip.models import ModelBundle, load_model, save_model
from compclip.train.data import BatchAugment, PairDataset, load_pairs
from compclip.train.loop import FitResult, TrainConfig, checkpoint_steps, fit, gather_with_grad
from compclip.train.losses import METHODS, TrainingLoss

log = logging.getLogger(__name__)

LOSSES = "losses.jsonl"
PLOT = "losses.png"
METRICS = "metrics.json"
CHECKPOINTS = "checkpoints"


def train(
    source: str,
    data: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    negatives: str | Path | None = None,
    resume: bool = False,
) -> dict:
    """Fine-tune the model at ``source`` on a dataset folder (+ negatives for negclip/degla)."""
    return run(load_model(source), data, out, config or TrainConfig(), negatives, resume)


def run(
    bundle: ModelBundle,
    data: str | Path,
    out: str | Path,
    config: TrainConfig,
    negatives: str | Path | None = None,
    resume: bool = False,
) -> dict:
    """Train ``bundle.model`` and write the output folder; returns the metrics."""
    if config.method not in METHODS:
        raise UserError(f"unknown method {config.method!r}; choose one of {', '.join(METHODS)}")
    if config.method != "clip" and negatives is None:
        raise UserError(f"method {config.method!r} needs hard negatives (--negatives negatives.json)")
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(out)
    checkpoints = out / CHECKPOINTS
    done = checkpoint_steps(checkpoints)
    if done and not resume:
        raise UserError(f"{out} holds checkpoints of an earlier run; pass --resume or choose another --out")
    resume_from = done[-1] if done else None

    preprocess = get_model_preprocess_cfg(bundle.model)
    pairs = load_pairs(
        data,
        bundle.tokenizer,
        preprocess["size"],
        config.data,
        negatives if config.method != "clip" else None,
    )
    if len(pairs.tokens) < config.data.batch_size:
        raise UserError(
            f"{data}: {len(pairs.tokens)} usable pairs, fewer than one batch "
            f"(batch_size {config.data.batch_size}); lower the batch size"
        )
    loader = DataLoader(
        PairDataset(pairs, config.data, config.seed),
        batch_size=config.data.batch_size,
        shuffle=True,
        drop_last=True,
    )
    augment = BatchAugment(preprocess["mean"], preprocess["std"], config.data.crop_scale, seed=config.seed)
    accelerator = Accelerator(
        mixed_precision=config.precision,
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=config.seed),
    )
    loss_fn = TrainingLoss(config.method, config.loss, gather_with_grad(accelerator))
    out.mkdir(parents=True, exist_ok=True)
    curve = LossLog(out / LOSSES, resume_from or 0)
    result = fit(
        accelerator, bundle.model, loader, augment, loss_fn, config, checkpoints, resume_from, curve.write
    )
    accelerator.wait_for_everyone()
    metrics = {}
    if accelerator.is_main_process:
        metrics = _metrics(config, result, pairs, len(loader))
        (out / METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
        plot_losses(curve.read(), out / PLOT)
        provenance = {
            "config": dataclasses.asdict(config),
            "data": str(data),
            "negatives": str(negatives or ""),
            "base": bundle.info.get("source", bundle.name),
        }
        save_model(bundle, out, extra={"training": provenance, "files": [METRICS, LOSSES, PLOT]})
        if not config.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
        log.info(
            "wrote %s: %d steps in %.1f s, final loss %.4f",
            out,
            result.steps,
            result.seconds,
            result.last.get("total", float("nan")),
        )
    return metrics


def _metrics(config: TrainConfig, result: FitResult, pairs, per_epoch: int) -> dict:
    ran = result.steps - result.start_step
    return {
        "method": config.method,
        "steps": result.steps,
        "epochs": result.steps / per_epoch,
        "resumed_from_step": result.start_step,
        "seconds": round(result.seconds, 3),
        "seconds_per_step": round(result.seconds / ran, 4) if ran else None,
        "pairs": len(pairs.tokens),
        "images": len(pairs.images),
        "k_negatives": config.data.k_negatives if pairs.negatives is not None else 0,
        "final_logit_scale": result.last.get("logit_scale"),
        **{f"loss_{k}": v for k, v in result.last.items() if k not in ("step", "epoch", "lr", "logit_scale")},
        "rejected": pairs.rejects.total,
        **{f"rejected: {reason}": n for reason, n in pairs.rejects.as_dict().items()},
    }


class LossLog:
    """``losses.jsonl``: one JSON record per step; on resume, records after the checkpoint are dropped."""

    def __init__(self, path: Path, start_step: int) -> None:
        self.path = path
        kept = [r for r in self.read() if r["step"] <= start_step] if start_step else []
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def write(self, record: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def plot_losses(records: list[dict], path: Path) -> None:
    """One panel per loss part against the step (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [k for k in (records[0] if records else {}) if k not in ("step", "epoch", "lr", "logit_scale")]
    fig, axes = plt.subplots(1, max(1, len(parts)), figsize=(4 * max(1, len(parts)), 3), squeeze=False)
    steps = [r["step"] for r in records]
    for ax, part in zip(axes[0], parts, strict=False):
        ax.plot(steps, [r[part] for r in records])
        ax.set_title(part)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
