"""Experiment: can a model be fitted to tell a caption from one type of its hard negatives?

A capacity test, not training: the model is fitted directly on ``--n-train`` images with a pairwise
logistic loss (positive against the negative of ``--type``, same image, ``--scale`` as the logit
scale), and its accuracy (positive scored above the negative) is read on 500 of those training
images and on ``--n-test`` held-out ones. If a model cannot even fit its training images, no loss
on top (DeGLA's included) will teach it that distinction at this budget.

    .venv/bin/python bench/relation_negatives.py data/negatives/negatives.json out/exp/negatives-rel
    .venv/bin/python bench/relation_fit.py --model models/base --data data/finetune \\
        --negatives out/exp/negatives-rel/negatives.json --type replace_relations
    .venv/bin/python bench/relation_fit.py ... --type swap_adjectives      # the control
    .venv/bin/python bench/relation_fit.py ... --train text                # image tower frozen
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from open_clip.model import get_model_preprocess_cfg

from compclip.models import load_model
from compclip.negatives.io import read_negatives, write_outputs
from compclip.rejects import Rejects
from compclip.train.data import BatchAugment, DataConfig, load_pairs


def one_type(negatives: Path, kind: str, out: Path) -> Path:
    """A copy of a negatives file with, per record, only its first negative of type ``kind``."""
    records = [r for r in read_negatives(str(negatives), Rejects(), known_types=None) if kind in r.types]
    for r in records:
        r.enhanced, r.types = [r.enhanced[r.types.index(kind)]], [kind]
    write_outputs(out, records, {"records": len(records), "type": kind})
    return out / "negatives.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="dataset folder (captions.parquet + images)")
    parser.add_argument("--negatives", type=Path, required=True)
    parser.add_argument("--type", required=True, help="negative type to fit against")
    parser.add_argument("--train", choices=("all", "visual", "text"), default="all", help="towers fitted")
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--every", type=int, default=200, help="steps between accuracy reports")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    bundle = load_model(args.model)
    model, preprocess = bundle.model, get_model_preprocess_cfg(bundle.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = one_type(args.negatives, args.type, Path(tmp))
        config = DataConfig(batch_size=args.batch, k_negatives=1, pad=True, max_reject_share=1.0)
        pairs = load_pairs(args.data, bundle.tokenizer, preprocess["size"], config, path)
    n = min(len(pairs.tokens), args.n_train + args.n_test)
    order = torch.randperm(len(pairs.tokens))[:n]
    train, test = order[: n - args.n_test], order[n - args.n_test :]
    normalise = BatchAugment(preprocess["mean"], preprocess["std"], scale=(1.0, 1.0), ratio=(1.0, 1.0))

    def margins(idx: torch.Tensor) -> torch.Tensor:
        images = normalise(pairs.images[pairs.image_index[idx]], step=0)
        image = F.normalize(model.encode_image(images), dim=-1)
        negatives = pairs.negatives[pairs.negative_offsets[idx]]  # one per pair
        tokens = torch.cat([pairs.tokens[idx], negatives])
        texts = F.normalize(model.encode_text(tokens), dim=-1)
        positive, negative = texts.chunk(2)
        return (image * positive).sum(-1) - (image * negative).sum(-1)

    def accuracy(idx: torch.Tensor) -> float:
        model.eval()
        with torch.no_grad():
            correct = torch.cat([margins(chunk) > 0 for chunk in idx.split(256)])
        model.train()
        return correct.float().mean().item()

    for name, param in model.named_parameters():
        param.requires_grad_(args.train == "all" or name.startswith("visual.") == (args.train == "visual"))
    fitted = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(fitted, lr=args.lr, weight_decay=0)
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    rows = []
    for step in range(args.steps + 1):
        if step % args.every == 0:
            train_acc, test_acc = accuracy(train[:500]), accuracy(test)
            rows.append({"step": step, "train_acc": round(train_acc, 4), "test_acc": round(test_acc, 4)})
            print(json.dumps(rows[-1]), flush=True)
        if step == args.steps:
            break
        batch = train[torch.randint(len(train), (args.batch,), generator=generator)]
        loss = F.softplus(-args.scale * margins(batch)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    best = max(rows, key=lambda r: r["train_acc"])
    print(
        f"{args.model} vs {args.type} ({args.train} trained, {len(train)} train / {len(test)} test images): "
        f"start train {rows[0]['train_acc']:.1%} test {rows[0]['test_acc']:.1%}; "
        f"best train {best['train_acc']:.1%} (step {best['step']}); "
        f"end train {rows[-1]['train_acc']:.1%} test {rows[-1]['test_acc']:.1%}"
    )


if __name__ == "__main__":
    main()
