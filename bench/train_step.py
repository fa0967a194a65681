"""Seconds per training step: plain CLIP fine-tuning vs NegCLIP vs DeGLA at the same batch.

Runs the real loop (compclip.train.loop.fit) on an open_clip model (random weights) with
synthetic images at the model's image size and real captions (SugarCrepe's positives, from COCO,
with K = 4 rule-based hard negatives each), each method in a fresh subprocess,
with and without the glibc malloc settings, and prints the median and best step time per method
and DeGLA's ratio to CLIP (target <= 1.6). On a shared machine the best (minimum) step is the
steadier number.

    .venv/bin/python bench/train_step.py [--batch 128] [--steps 8] [--threads 2]
    .venv/bin/python bench/train_step.py --model ViT-L-14-336 --batch 4 --steps 2 --warmup 1 --malloc tuned
    .venv/bin/python bench/train_step.py --batch 64 --steps 6 --malloc tuned --precision bf16
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

from compclip.methods import METHODS
from sugarcrepe import positive_captions

MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "4000000000",
    "MALLOC_TOP_PAD_": "536870912",
}


def real_captions(n: int, k: int) -> tuple[list[str], list[str]]:
    """``n`` SugarCrepe positive captions (COCO) with ``k`` rule-based hard negatives each."""
    from compclip.negatives import PAPER_TYPES, RuleGenerator, Rules, ValidityFilter, propose

    generator, validity = Rules(RuleGenerator(), seed=0), ValidityFilter()
    unique = list(enumerate(positive_captions()))
    captions, negatives = [], []
    for start in range(0, len(unique), n):  # only as many captions as it takes
        chunk = [(str(i), c) for i, c in unique[start : start + n]]
        for record, _ in propose(chunk, generator, validity, PAPER_TYPES, 1):
            if len(record.enhanced) >= k and len(captions) < n:
                captions.append(record.original)
                negatives.extend(record.enhanced[:k])
        if len(captions) == n:
            return captions, negatives
    raise SystemExit(f"only {len(captions)} SugarCrepe captions have {k} negatives; {n} needed")


def step_times(model: str, method: str, batch: int, steps: int, warmup: int, precision: str) -> list[float]:
    import torch
    from accelerate import Accelerator, DataLoaderConfiguration
    from open_clip.model import get_model_preprocess_cfg
    from torch.utils.data import DataLoader

    from compclip.models import create_model
    from compclip.rejects import Rejects
    from compclip.train.data import BatchAugment, PairDataset, Pairs, image_shape
    from compclip.train.loop import OptimConfig, TrainConfig, fit
    from compclip.train.losses import TrainingLoss

    bundle = create_model(model)
    pre = get_model_preprocess_cfg(bundle.model)
    n, k = batch * (steps + warmup), 4
    captions, negatives = real_captions(n, k)
    g = torch.Generator().manual_seed(0)
    pairs = Pairs(
        images=torch.randint(0, 256, (n, 3, *image_shape(pre["size"])), dtype=torch.uint8, generator=g),
        image_index=torch.arange(n),
        tokens=bundle.tokenizer(captions),
        negatives=bundle.tokenizer(negatives),
        negative_offsets=torch.arange(0, n * k + 1, k),
        ids=[str(i) for i in range(n)],
        rejects=Rejects(),
    )
    config = TrainConfig(method=method, checkpoint_every=0, optim=OptimConfig(epochs=1))
    loader = DataLoader(PairDataset(pairs, config.data), batch_size=batch, shuffle=True, drop_last=True)
    accelerator = Accelerator(
        mixed_precision=precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=0),
    )
    stamps: list[float] = []
    fit(
        accelerator,
        bundle.model,
        loader,
        BatchAugment(pre["mean"], pre["std"]),
        TrainingLoss(method),
        config,
        on_step=lambda record: stamps.append(time.perf_counter()),
    )
    deltas = [b - a for a, b in itertools.pairwise(stamps)]
    return deltas[warmup - 1 :]


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    times = step_times(args.model, args.child, args.batch, args.steps, args.warmup, args.precision)
    print(json.dumps({"median": statistics.median(times), "min": min(times)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=3, help="steps before timing starts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="compclip-tiny-rn", help="open_clip architecture name")
    parser.add_argument("--precision", choices=("no", "bf16"), default="no", help="mixed precision")
    parser.add_argument("--malloc", choices=("both", "default", "tuned"), default="both")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print(
        f"{args.model}, batch {args.batch}, K=4, {args.threads} threads, precision {args.precision}, "
        f"median of {args.steps} steps"
    )
    settings = {"default": False, "tuned": True}
    for name, malloc in settings.items():
        if args.malloc not in ("both", name):
            continue
        label = f"{name} malloc"
        env = {k: v for k, v in os.environ.items() if k not in MALLOC} | (MALLOC if malloc else {})
        times = {}
        for method in METHODS:
            flags = {"--child": method, "--model": args.model, "--batch": args.batch, "--steps": args.steps,
                     "--warmup": args.warmup, "--threads": args.threads,
                     "--precision": args.precision}  # fmt: skip
            cmd = [sys.executable, __file__, *(str(x) for item in flags.items() for x in item)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            times[method] = json.loads(out.strip().splitlines()[-1])
        for stat in ("median", "min"):
            t = {m: times[m][stat] for m in METHODS}
            row = "  ".join(f"{m} {t[m]:.3f}" for m in METHODS)
            print(
                f"{label:15s} {stat:6s} s/step: {row}  degla/clip {t['degla'] / t['clip']:.2f}x  "
                f"negclip/clip {t['negclip'] / t['clip']:.2f}x"
            )


if __name__ == "__main__":
    main()
