"""The training stage: a base model, a dataset and its negatives in, a model folder out.

:func:`train` fine-tunes any model source (``compclip train``); :func:`run` is shared with
from-scratch pretraining (``compclip pretrain``). Every input and the output are URIs (a local
path or s3://). The output, written only when the run succeeds (:func:`compclip.outputs.local_out`),
gets the model (safetensors + open_clip config + manifest, with the training config and the run's
fingerprint as provenance), ``metrics.json``, ``losses.jsonl`` (one record per step) and
``losses.png``. Checkpoints (:mod:`compclip.train.checkpoints`) live in the run's work folder,
outside the output (by default ``<out>.checkpoints``, so ``dvc repro`` keeps them): a run started
again on the same work folder resumes from its newest complete checkpoint by itself.
Run in several processes (:mod:`compclip.train.launch`), ``batch_size`` is the global batch and
only the main process writes checkpoints and the output; the result does not depend on the count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from open_clip.model import get_model_preprocess_cfg
from torch.utils.data import DataLoader

from compclip.cpus import torch_threads
from compclip.errors import UserError
from compclip.methods import METHODS
from compclip.models import ModelBundle, load_model, save_model
from compclip.outputs import check_place, local_out
from compclip.storage import write_json
from compclip.train.checkpoints import CheckpointDir, open_checkpoints
from compclip.train.data import BatchAugment, PairDataset, Pairs, load_pairs
from compclip.train.fingerprint import differences, run_fingerprint
from compclip.train.loop import FitResult, NonFinite, TrainConfig, fit, gather_with_grad
from compclip.train.losses import TrainingLoss

log = logging.getLogger(__name__)

LOSSES = "losses.jsonl"
PLOT = "losses.png"
METRICS = "metrics.json"


def default_work_dir(out: str) -> str:
    """Where a run keeps its checkpoints unless told: beside its output, ``<out>.checkpoints``."""
    return f"{str(out).rstrip('/')}.checkpoints"


def train(
    model: str,
    data: str,
    negatives: str | None,
    out: str,
    config: TrainConfig | None = None,
    *,
    work_dir: str | None = None,
) -> dict:
    """Fine-tune the model source ``model`` on a dataset folder (+ negatives for negclip/degla)."""
    return run(load_model(model), data, negatives, out, config or TrainConfig(), work_dir=work_dir)


def run(
    bundle: ModelBundle,
    data: str,
    negatives: str | None,
    out: str,
    config: TrainConfig,
    *,
    work_dir: str | None = None,
) -> dict:
    """Train ``bundle.model`` and publish the output folder at ``out``; returns the metrics.

    ``work_dir`` (default :func:`default_work_dir`), a local folder or s3:// prefix, holds the
    checkpoints; training continues from its newest complete one when the run's fingerprint (config
    and input content) matches, and refuses otherwise.
    """
    if config.method not in METHODS:
        raise UserError(f"unknown method {config.method!r}; choose one of {', '.join(METHODS)}")
    if config.method != "clip" and negatives is None:
        raise UserError(f"method {config.method!r} needs hard negatives (--negatives negatives.json)")
    torch.set_num_threads(torch_threads(config.threads))
    accelerator = Accelerator(
        mixed_precision=config.precision,
        step_scheduler_with_optimizer=False,
        dataloader_config=DataLoaderConfiguration(
            split_batches=True, use_seedable_sampler=True, data_seed=config.seed
        ),
    )
    check_processes(config.data.batch_size, accelerator.num_processes)
    out, work_uri = str(out), str(work_dir or default_work_dir(out))
    check_place(out)
    with contextlib.ExitStack() as stack:
        with accelerator.main_process_first():  # one process claims the folder, then the others see it
            store = stack.enter_context(open_checkpoints(work_uri))
            done = store.steps()
        preprocess = get_model_preprocess_cfg(bundle.model)
        pairs = load_pairs(
            str(data),
            bundle.tokenizer,
            preprocess["size"],
            config.data,
            str(negatives) if config.method != "clip" else None,
        )
        if len(pairs.tokens) < config.data.batch_size:
            raise UserError(
                f"{data}: {len(pairs.tokens)} usable pairs, fewer than one batch "
                f"(batch_size {config.data.batch_size}); lower the batch size"
            )
        fingerprint = run_fingerprint(config, bundle.model, pairs)
        resume_from = _resume_point(store, done, fingerprint)
        try:
            result, curve = _fit(accelerator, bundle, pairs, config, store, fingerprint, resume_from)
        except NonFinite as err:
            done = store.steps()
            kept = "no checkpoint was saved"
            if done:
                kept = (
                    f"the last good checkpoint, {store.uri}/step_{done[-1]}, stays: a rerun resumes from it"
                )
            raise UserError(f"{err}; nothing was published; {kept}") from None
        metrics = {}
        if accelerator.is_main_process:
            metrics = _metrics(config, result, pairs, accelerator.num_processes)
            provenance = {
                "config": dataclasses.asdict(config),
                "data": str(data),
                "negatives": str(negatives or ""),
                "base": bundle.info.get("source", bundle.name),
                "fingerprint": fingerprint,
            }
            with local_out(out) as stage:
                write_json(stage / METRICS, metrics, sort_keys=False)
                (stage / LOSSES).write_bytes(curve.jsonl())
                plot_losses(curve.records, stage / PLOT)
                save_model(bundle, stage, extra={"training": provenance, "files": [METRICS, LOSSES, PLOT]})
            if not config.keep_checkpoints:
                store.clear()
            log.info(
                "wrote %s: %d steps in %.1f s, final loss %.4f",
                out,
                result.steps,
                result.seconds,
                result.last.get("total", float("nan")),
            )
        accelerator.wait_for_everyone()
    return metrics


def _resume_point(store: CheckpointDir, done: list[int], fingerprint: dict) -> Path | None:
    """The verified local folder of the last checkpoint, if any; refused when made by another run."""
    if not done:
        return None
    changed = differences(store.fingerprint(done[-1]), fingerprint)
    if changed:
        raise UserError(
            f"{store.uri}/step_{done[-1]} was made by another run; it differs in {'; '.join(changed)}. "
            f"Resume with the same config and inputs, or remove {store.uri} (or pass another "
            "--work-dir) to start over"
        )
    return store.fetch(done[-1])


def check_processes(batch_size: int, processes: int) -> None:
    """The global batch must split evenly over the processes."""
    if batch_size % processes:
        raise UserError(
            f"batch_size {batch_size} (the global batch) does not split over {processes} processes; "
            f"choose a multiple of {processes}"
        )


def _fit(
    accelerator: Accelerator,
    bundle: ModelBundle,
    pairs: Pairs,
    config: TrainConfig,
    store: CheckpointDir,
    fingerprint: dict,
    resume_from: Path | None,
) -> tuple[FitResult, LossLog]:
    """One global permutation per epoch (seed, epoch) cut into global batches, of which each process
    loads its contiguous slice (accelerate's ``split_batches``): the gathered batch is the batch a
    single process would see."""
    loader = DataLoader(
        PairDataset(pairs, config.data, config.seed),
        batch_size=config.data.batch_size,
        shuffle=True,
        drop_last=True,
    )
    preprocess = get_model_preprocess_cfg(bundle.model)
    augment = BatchAugment(preprocess["mean"], preprocess["std"], config.data.crop_scale, seed=config.seed)
    loss_fn = TrainingLoss(config.method, config.loss, gather_with_grad(accelerator))
    curve = LossLog.resumed(resume_from / LOSSES) if resume_from else LossLog()

    def save(step, state):
        store.save(state, step, fingerprint, {LOSSES: curve.jsonl()})

    result = fit(accelerator, bundle.model, loader, augment, loss_fn, config, resume_from, save, curve.write)
    return result, curve


def _metrics(config: TrainConfig, result: FitResult, pairs: Pairs, processes: int) -> dict:
    ran = result.steps - result.start_step
    return {
        "method": config.method,
        "processes": processes,
        "steps": result.steps,
        "epochs": result.steps / result.per_epoch,
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
    """The loss curve, one record per step; a resumed run starts from its checkpoint's copy."""

    def __init__(self, records: list[dict] | None = None) -> None:
        self.records = list(records or [])

    @classmethod
    def resumed(cls, path: Path) -> LossLog:
        return cls([json.loads(line) for line in path.read_text().splitlines() if line.strip()])

    def write(self, record: dict) -> None:
        self.records.append(record)

    def jsonl(self) -> bytes:
        return "".join(json.dumps(r) + "\n" for r in self.records).encode()


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
