"""``compclip train``: fine-tune a CLIP model with DeGLA, NegCLIP or plain CLIP fine-tuning."""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.config import load_section, override_from
from compclip.methods import METHODS
from compclip.train.launch import job, launch, spread
from compclip.train.loop import TrainConfig
from compclip.train.run import train

EXAMPLES = """examples:
  compclip train --model out/pretrain --data out/world --negatives out/neg --out out/degla
  compclip train --model out/pretrain --data out/world --out out/clip-ft --method clip --params params.yaml
  compclip train --model ViT-B-32:laion400m_e32 --data coco/ --negatives neg.json --out runs/negclip \\
      --method negclip --precision bf16
  compclip train ... --out out/degla --resume      # continue a killed run from its last checkpoint
  compclip train --model ViT-B-32:openai --data coco/ --negatives neg.json --out runs/degla \\
      --batch-size 1024 --processes 8               # the 8 GPUs of a node, 128 images each per step
  compclip train --model s3://bucket/models/base --data s3://bucket/finetune \\
      --negatives s3://bucket/negatives/negatives.json --out s3://bucket/models/degla \\
      --checkpoint-dir s3://bucket/checkpoints/degla --resume   # a preemptible pod: resume from S3
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
    parser.add_argument("--method", choices=METHODS, help="loss (default: degla)")
    parser.add_argument("--params", type=Path, help="params.yaml; its `train` section sets defaults")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint, if any")
    parser.add_argument(
        "--checkpoint-dir",
        help="checkpoints: path or s3://, new, empty or compclip's, never a bucket root "
        "(default: <out>.checkpoints), synced at each save",
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--max-steps", type=int, help="stop (and end the schedule) after this many steps")
    parser.add_argument(
        "--batch-size", type=int, help="images per step, over all processes (the global batch)"
    )
    parser.add_argument("--lr", type=float)
    parser.add_argument("--k-negatives", type=int, help="hard negatives per caption (default 4)")
    parser.add_argument("--pad", action="store_true", default=None, help="repeat negatives when fewer than K")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (0: none)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--precision", choices=("no", "fp16", "bf16"), help="mixed precision")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads per process (default: OMP_NUM_THREADS, else the CPU quota / processes)",
    )
    add_processes(parser)
    parser.set_defaults(func=_train)


def add_processes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes on this node, one per GPU (default 1); the batch size is split over all of them",
    )


def _train(args: argparse.Namespace) -> int | None:
    config = load_section(TrainConfig, args.params, "train")
    optim = override_from(config.optim, args, "epochs", "max_steps", "lr")
    data = override_from(config.data, args, "batch_size", "k_negatives", "pad")
    config = override_from(
        config, args, "method", "checkpoint_every", "seed", "precision", "threads", optim=optim, data=data
    )
    inputs = {"model": args.model, "data": args.data, "negatives": args.negatives, "out": args.out}
    inputs |= {"resume": args.resume, "checkpoints": args.checkpoint_dir}
    if spread(args.processes):
        return launch(job("train", inputs, config, config.data.batch_size), args.processes)
    metrics = train(**inputs, config=config)
    if metrics:
        loss = metrics["loss_total"]
        print(f"wrote {args.out}: {config.method}, {metrics['steps']} steps, final loss {loss:.4f}")
