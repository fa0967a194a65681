"""World rendering throughput on one core: images/s at 64x64 (sample + render, and with PNG encoding).

Run: .venv/bin/python bench/world_render.py [--n 5000] [--size 64]
"""

from __future__ import annotations

import argparse
import io
import time

import torch
from PIL import Image

from compclip.world import CorpusSampler, Renderer, load_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    world = load_world(overrides={"image_size": args.size})
    sampler, renderer = CorpusSampler(world), Renderer(world)
    for i in range(200):  # warm the mask cache
        renderer.render(sampler.item(1, i)[0])
    start = time.perf_counter()
    images = [renderer.render(sampler.item(0, i)[0]) for i in range(args.n)]
    render = args.n / (time.perf_counter() - start)
    start = time.perf_counter()
    for image in images:
        Image.fromarray(image).save(io.BytesIO(), format="PNG", compress_level=1)
    png = args.n / (time.perf_counter() - start)
    both = 1 / (1 / render + 1 / png)
    print(f"world render {args.size}x{args.size}, 1 core, {args.n} images:")
    print(f"  sample + caption + render: {render:8.0f} images/s (target >= 2000)")
    print(f"  PNG encode only:           {png:8.0f} images/s")
    print(f"  render + PNG:              {both:8.0f} images/s")


if __name__ == "__main__":
    main()
