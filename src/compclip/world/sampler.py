"""The pretraining corpus sampler: scenes with a controlled, skewed co-occurrence of concepts.

Per object kind, accessories follow a Zipf law over a per-object random ranking, and the
lowest-ranked ``never_share`` of them never appear with it, so that PMI(object, accessory) over the
corpus spans a wide range (with -inf for the pairs that never meet). Item ``i`` of a corpus with
seed ``s`` depends on ``(s, i)`` only.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from compclip.world.captions import sample_caption
from compclip.world.preset import SCENE_KINDS, World
from compclip.world.scene import Description, Scene, Thing, make_scene, random_object


def accessory_probs(world: World) -> np.ndarray:
    """``(objects, accessories)``: P(accessory | object) in the corpus' accessory scenes."""
    n = len(world.accessories)
    keep = n - round(world.skew.never_share * n)
    weights = np.zeros(n)
    weights[:keep] = 1.0 / np.arange(1, keep + 1) ** world.skew.zipf_exponent
    rng = np.random.default_rng(world.skew.seed)
    probs = np.stack([weights[rng.permutation(n).argsort()] for _ in world.objects])
    return probs / probs.sum(axis=1, keepdims=True)


class CorpusSampler:
    """Draws corpus item ``(seed, index)``: a scene and one caption of it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.objects = list(world.objects)
        self.accessories = list(world.accessories)
        self.accessory_cdf = np.cumsum(accessory_probs(world), axis=1)
        mix = np.array([asdict(world.mix)[k] for k in SCENE_KINDS], dtype=np.float64)
        self.kind_cdf = np.cumsum(mix / mix.sum())

    def _draw(self, cdf: np.ndarray, u: float) -> int:
        return min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)

    def description(self, rng: np.random.Generator) -> Description:
        kind = SCENE_KINDS[self._draw(self.kind_cdf, rng.random())]
        first = random_object(self.world, rng)
        if kind == "single":
            return Description(first)
        if kind == "accessory":
            row = self.accessory_cdf[self.objects.index(first.kind)]
            second = Thing(self.accessories[self._draw(row, rng.random())])
        else:
            second = random_object(self.world, rng)
        relations = list(self.world.relations)
        return Description(first, second, relations[int(rng.integers(len(relations)))])

    def item(self, seed: int, index: int) -> tuple[Scene, str]:
        rng = np.random.default_rng([seed, index])
        scene = make_scene(self.world, rng, self.description(rng))
        return scene, sample_caption(self.world, rng, scene)
