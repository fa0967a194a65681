"""Experiment: does a model's image embedding hold where two fixed objects lie relative to each other?

Renders world scenes of the same two objects (a small red ball and a small blue cube) in one of two
opposite relations, embeds them with the frozen image tower and fits a linear probe (logistic
regression) on ``--n-train`` of them; prints the probe's accuracy on ``--n-test`` others, per axis.
High accuracy with relation fits at chance (bench/relation_fit.py) means the position is there and
the binding of objects to words is what is missing.

    .venv/bin/python bench/relation_probe.py --model models/base
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.model import get_model_preprocess_cfg

from compclip.models import load_model
from compclip.train.data import BatchAugment, image_shape
from compclip.world import Description, Renderer, Thing, load_world, make_scene

AXES = {"x": ("left of", "right of"), "y": ("above", "below")}


def scenes(relations: tuple[str, str], n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` rendered scenes (uint8 NCHW) of the ball and the cube, and which relation each shows."""
    world, rng = load_world(), np.random.default_rng(seed)
    renderer = Renderer(world)
    first, second = Thing("ball", "red", "small"), Thing("cube", "blue", "small")
    labels = rng.integers(2, size=n)
    images = [
        renderer.render(make_scene(world, rng, Description(first, second, relations[label])))
        for label in labels
    ]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), torch.from_numpy(labels).float()


def probe_accuracy(features: torch.Tensor, labels: torch.Tensor, n_train: int, steps: int = 500) -> float:
    """Held-out accuracy of a logistic regression fitted on the first ``n_train`` rows."""
    weight = torch.zeros(features.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=0.05)
    x, y = features[:n_train], labels[:n_train]
    for _ in range(steps):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(x @ weight * 10 + bias, y).backward()
        optimizer.step()
    with torch.no_grad():
        predicted = (features[n_train:] @ weight * 10 + bias > 0).float()
    return (predicted == labels[n_train:]).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bundle = load_model(args.model)
    model, preprocess = bundle.model.eval(), get_model_preprocess_cfg(bundle.model)
    shape = image_shape(preprocess["size"])
    normalise = BatchAugment(preprocess["mean"], preprocess["std"], scale=(1.0, 1.0), ratio=(1.0, 1.0))
    for axis, relations in AXES.items():
        images, labels = scenes(relations, args.n_train + args.n_test, args.seed)
        if images.shape[-2:] != shape:
            images = F.interpolate(images.float(), size=shape, mode="bicubic").clamp(0, 255)
        with torch.no_grad():
            features = F.normalize(model.encode_image(normalise(images, step=0)), dim=-1)
        accuracy = probe_accuracy(features, labels, args.n_train)
        print(f"{args.model}: {relations[0]} / {relations[1]} (axis {axis}) probe accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
