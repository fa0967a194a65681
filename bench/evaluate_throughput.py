"""Evaluator image path vs the bare model forward, images/s at the same batch size (target >= 90%).

The image path is compclip.evaluate.encode.Encoder.images (DataLoader workers decoding PNGs with
PIL and the model's preprocess, then the forward); the bare forward runs encode_image on random
tensors already in memory. Run:

    .venv/bin/python bench/evaluate_throughput.py --threads 1 --workers 1 [--images 8192]
    .venv/bin/python bench/evaluate_throughput.py --model ViT-B-32 --threads 1 --images 384 --repeats 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from compclip.evaluate.encode import Encoder, ImageRef, RuntimeConfig
from compclip.models import create_model
from compclip.rejects import Rejects


def make_pngs(folder: Path, n: int, size: int) -> list[ImageRef]:
    rng = np.random.default_rng(0)
    refs = []
    for i in range(n):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
        refs.append(ImageRef(str(path)))
    return refs


@torch.inference_mode()
def bare_forward(encoder: Encoder, n: int, batch_size: int, image_size: int) -> float:
    batch = torch.randn(batch_size, 3, image_size, image_size, device=encoder.device)
    encoder.model.encode_image(batch)
    start = time.perf_counter()
    for _ in range(n // batch_size):
        with encoder.autocast():
            encoder.model.encode_image(batch)
    return (n // batch_size) * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="compclip-tiny-rn")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--image-size", type=int, default=96, help="PNG side (the model resizes to 64)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runtime = RuntimeConfig(device="auto", batch_size=args.batch_size, workers=args.workers)
    encoder = Encoder(create_model(args.model), runtime)
    model_size = encoder.preprocess.transforms[1].size[0]
    with tempfile.TemporaryDirectory() as tmp:
        refs = make_pngs(Path(tmp), args.images, args.image_size)
        encoder.images(refs[: args.batch_size], Rejects())
        bare, path = [], []
        for _ in range(args.repeats):
            bare.append(bare_forward(encoder, args.images, args.batch_size, model_size))
            start = time.perf_counter()
            encoder.images(refs, Rejects())
            path.append(args.images / (time.perf_counter() - start))
    print(
        f"model {args.model} on {encoder.device}, batch {args.batch_size}, {args.workers} workers, "
        f"{args.threads} torch threads, {args.images} PNGs of {args.image_size}px"
    )
    print(f"bare forward:    {max(bare):8.1f} images/s (best of {args.repeats})")
    print(f"evaluator path:  {max(path):8.1f} images/s (best of {args.repeats})")
    print(f"ratio:           {max(path) / max(bare):8.1%} (target >= 90%)")


if __name__ == "__main__":
    main()
