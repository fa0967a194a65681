"""``compclip pretrain``: train a tiny open_clip model from scratch with the CLIP loss."""

from __future__ import annotations

import argparse
from pathlib import Path

from compclip.cli import add_command
from compclip.config import add_flag, load_section, override_from
from compclip.pretrain import PretrainConfig, pretrain
from compclip.train.cli import add_loop_flags, add_processes, add_work_dir
from compclip.train.launch import job, launch, spread

EXAMPLES = """examples:
  compclip pretrain --data out/world --out out/pretrain
  compclip pretrain --data out/world --out out/pretrain --model compclip-tiny-vit --params params.yaml
  compclip pretrain --data out/world --out out/pretrain   # the same command again continues a killed run
  compclip pretrain --data out/world --out out/pretrain --batch-size 128 --processes 2  # 64 each
  compclip pretrain --data s3://bucket/world --out s3://bucket/models/base \\
      --work-dir s3://bucket/work/base      # a preemptible pod: checkpoints on S3, resumed from
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "pretrain", "train a tiny CLIP from scratch", EXAMPLES, description=__doc__
    )
    parser.add_argument(
        "--data", required=True, help="dataset folder (captions.parquet, images): path or s3://"
    )
    parser.add_argument(
        "--out", required=True, help="output model folder: path or s3:// (written on success)"
    )
    config = PretrainConfig()
    add_flag(parser, config, "--model", help="open_clip architecture")
    parser.add_argument("--params", type=Path, help="params.yaml; its `pretrain` section sets defaults")
    add_work_dir(parser)
    add_loop_flags(parser, config)
    add_processes(parser)
    parser.set_defaults(func=_pretrain)


def _pretrain(args: argparse.Namespace) -> int | None:
    config = load_section(PretrainConfig, args.params, "pretrain")
    optim = override_from(config.optim, args, "epochs", "max_steps", "lr")
    data = override_from(config.data, args, "batch_size")
    config = override_from(config, args, "model", "seed", "threads", optim=optim, data=data)
    inputs = {"data": args.data, "out": args.out, "work_dir": args.work_dir}
    if spread(args.processes):
        return launch(job("pretrain", inputs, config, config.data.batch_size), args.processes)
    metrics = pretrain(**inputs, config=config)
    if metrics:
        print(
            f"wrote {args.out}: {config.model} from scratch, {metrics['steps']} steps, "
            f"final loss {metrics['loss_total']:.4f}"
        )
