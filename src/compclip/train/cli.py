"""``compclip train``: fine-tune a CLIP model with DeGLA, NegCLIP or plain CLIP fine-tuning."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from compclip.cli import add_command, retire_flag
from compclip.config import add_flag, load_section, override_from
from compclip.methods import METHODS
from compclip.train.launch import job, launch, spread
from compclip.train.loop import TrainConfig
from compclip.train.run import train

if TYPE_CHECKING:
    from compclip.pretrain import PretrainConfig

EXAMPLES = """examples:
  compclip train --model out/pretrain --data out/world --negatives out/neg --out out/degla
  compclip train --model out/pretrain --data out/world --out out/clip-ft --method clip --params params.yaml
  compclip train --model ViT-B-32:laion400m_e32 --data coco/ --negatives neg.json --out runs/negclip \\
      --method negclip --precision bf16
  compclip train ... --out out/degla               # the same command again continues a killed run
  compclip train --model ViT-B-32:openai --data coco/ --negatives neg.json --out runs/degla \\
      --batch-size 1024 --processes 8               # the 8 GPUs of a node, 128 images each per step
  compclip train --model s3://bucket/models/base --data s3://bucket/finetune \\
      --negatives s3://bucket/negatives/negatives.json --out s3://bucket/models/degla \\
      --work-dir s3://bucket/work/degla             # a preemptible pod: checkpoints on S3, resumed from
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "train", "fine-tune a model (DeGLA, NegCLIP, CLIP)", EXAMPLES, description=__doc__
    )
    parser.add_argument(
        "--model", required=True, help="model source: folder, s3://, hf-hub:, or open_clip NAME[:TAG]"
    )
    parser.add_argument(
        "--data", required=True, help="dataset folder (captions.parquet, images): path or s3://"
    )
    parser.add_argument(
        "--negatives",
        help="negatives.json or the folder holding it, path or s3:// (needed by negclip and degla)",
    )
    parser.add_argument(
        "--out", required=True, help="output model folder: path or s3:// (written on success)"
    )
    config = TrainConfig()
    add_flag(parser, config, "--method", choices=METHODS, help="loss")
    parser.add_argument("--params", type=Path, help="params.yaml; its `train` section sets defaults")
    add_work_dir(parser)
    add_loop_flags(parser, config)
    add_flag(
        parser, config, "--k-negatives", field="data.k_negatives", type=int, help="hard negatives per caption"
    )
    add_flag(
        parser,
        config,
        "--pad",
        field="data.pad",
        action="store_true",
        default=None,
        help="repeat negatives when fewer than K",
    )
    add_flag(parser, config, "--checkpoint-every", type=int, help="steps between checkpoints (0: none)")
    add_flag(parser, config, "--precision", choices=("no", "fp16", "bf16"), help="mixed precision")
    add_processes(parser)
    parser.set_defaults(func=_train)


def add_work_dir(parser: argparse.ArgumentParser) -> None:
    """``--work-dir`` for the checkpoints (a run resumes from them by itself); the flags it replaced
    are refused naming it."""
    parser.add_argument(
        "--work-dir",
        help="checkpoints: path or s3://, new, empty or compclip's, never a bucket root "
        "(default: <out>.checkpoints), synced at each save; a run resumes from its newest one",
    )
    retire_flag(parser, "--checkpoint-dir", "use --work-dir")
    retire_flag(parser, "--resume", "a run resumes from its --work-dir by itself; rerun without --resume")


def add_loop_flags(parser: argparse.ArgumentParser, config: TrainConfig | PretrainConfig) -> None:
    """The flags train and pretrain share, each showing ``config``'s default."""
    add_flag(parser, config, "--epochs", field="optim.epochs", type=int, help="passes over the data")
    add_flag(
        parser,
        config,
        "--max-steps",
        field="optim.max_steps",
        type=int,
        help="stop (and end the schedule) after this many steps",
    )
    add_flag(
        parser,
        config,
        "--batch-size",
        field="data.batch_size",
        type=int,
        help="images per step, over all processes (the global batch)",
    )
    add_flag(parser, config, "--lr", field="optim.lr", type=float, help="peak learning rate")
    add_flag(parser, config, "--seed", type=int, help="seed of the run")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads per process (default: OMP_NUM_THREADS, else the CPU quota / processes)",
    )


def add_processes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes on this node, one per GPU (default: %(default)s); the batch is split over them",
    )


def _train(args: argparse.Namespace) -> int | None:
    config = load_section(TrainConfig, args.params, "train")
    optim = override_from(config.optim, args, "epochs", "max_steps", "lr")
    data = override_from(config.data, args, "batch_size", "k_negatives", "pad")
    config = override_from(
        config, args, "method", "checkpoint_every", "seed", "precision", "threads", optim=optim, data=data
    )
    inputs = {"model": args.model, "data": args.data, "negatives": args.negatives, "out": args.out}
    inputs["work_dir"] = args.work_dir
    if spread(args.processes):
        return launch(job("train", inputs, config, config.data.batch_size), args.processes)
    metrics = train(**inputs, config=config)
    if metrics:
        loss = metrics["loss_total"]
        print(f"wrote {args.out}: {config.method}, {metrics['steps']} steps, final loss {loss:.4f}")
