"""Compositional eval sets from world scenes in SugarCrepe's schema, with negatives false by construction.

Each subset (``replace_obj``, ``replace_att``, ``replace_rel``, ``swap_obj``, ``swap_att``,
``add_obj``, ``add_att``) is ``<subset>.json``: ``{"<id>": {"filename": "<id>.png", "shard":
"shards/000000.tar", "caption": positive, "negative_caption": hard negative}}``: the images are in
the set's tar shards (:mod:`compclip.shards`), ``shard`` naming the one that holds ``filename`` (a
reader that knows no ``shard`` finds ``filename`` in the folder once the shards are extracted into
it). A negative is the positive's wording applied to a changed description, and is
checked against the rendered scene's layout with :func:`compclip.world.scene.holds`: the positive
must hold and the negative must not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from compclip.shards import ShardWriter
from compclip.storage import write_json
from compclip.world.captions import Wording, compose, sample_wording
from compclip.world.files import png_bytes
from compclip.world.preset import World
from compclip.world.render import Renderer
from compclip.world.scene import Description, Scene, Thing, holds, make_scene, random_object

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    scene: Scene
    positive: Description
    negative: Description
    wording: Wording
    negative_wording: Wording


def _other(rng: np.random.Generator, options: list[str], exclude: set[str]) -> str:
    left = [o for o in options if o not in exclude]
    return left[int(rng.integers(len(left)))]


def _relation(world: World, rng: np.random.Generator) -> str:
    return list(world.relations)[int(rng.integers(len(world.relations)))]


def _two_objects(world: World, rng: np.random.Generator) -> Description:
    """Two objects of different kinds and colours."""
    first = random_object(world, rng)
    kind = _other(rng, list(world.objects), {first.kind})
    color = _other(rng, list(world.colors), {first.color})
    second = Thing(kind, color, list(world.sizes)[int(rng.integers(len(world.sizes)))])
    return Description(first, second, _relation(world, rng))


def _with_second(world: World, rng: np.random.Generator) -> Description:
    """An object with an accessory or a second object, half and half."""
    if rng.random() < 0.5:
        return _two_objects(world, rng)
    accessories = list(world.accessories)
    accessory = Thing(accessories[int(rng.integers(len(accessories)))])
    return Description(random_object(world, rng), accessory, _relation(world, rng))


def _pick_object(rng: np.random.Generator, d: Description) -> str:
    """``"first"`` or ``"second"``: an object (not an accessory) of the description."""
    objects = ["first"] + (["second"] if d.second is not None and d.second.color is not None else [])
    return objects[int(rng.integers(len(objects)))]


def _same(world: World, rng: np.random.Generator, d: Description, negative: Description) -> Example:
    scene = make_scene(world, rng, d)
    wording = sample_wording(world, rng, d.second is not None)
    return Example(scene, d, negative, wording, wording)


def replace_obj(world: World, rng: np.random.Generator) -> Example:
    d = _with_second(world, rng)
    present = {d.first.kind, d.second.kind}
    which = "second" if rng.random() < 0.5 else "first"
    thing = getattr(d, which)
    names = list(world.objects if thing.color is not None else world.accessories)
    return _same(world, rng, d, replace(d, **{which: replace(thing, kind=_other(rng, names, present))}))


def replace_att(world: World, rng: np.random.Generator) -> Example:
    d = _with_second(world, rng)
    which = _pick_object(rng, d)
    thing = getattr(d, which)
    color = _other(rng, list(world.colors), {thing.color})
    return _same(world, rng, d, replace(d, **{which: replace(thing, color=color)}))


def replace_rel(world: World, rng: np.random.Generator) -> Example:
    d = _with_second(world, rng)
    return _same(world, rng, d, replace(d, relation=_other(rng, list(world.relations), {d.relation})))


def swap_obj(world: World, rng: np.random.Generator) -> Example:
    d = _two_objects(world, rng)
    first, second = replace(d.first, kind=d.second.kind), replace(d.second, kind=d.first.kind)
    return _same(world, rng, d, replace(d, first=first, second=second))


def swap_att(world: World, rng: np.random.Generator) -> Example:
    d = _two_objects(world, rng)
    first, second = replace(d.first, color=d.second.color), replace(d.second, color=d.first.color)
    return _same(world, rng, d, replace(d, first=first, second=second))


def add_obj(world: World, rng: np.random.Generator) -> Example:
    """A single object; the negative adds an absent accessory or object: "{first} and {second}"."""
    d = Description(random_object(world, rng))
    if rng.random() < 0.5:
        added = Thing(_other(rng, list(world.accessories), set()))
    else:
        added = random_object(world, rng, _other(rng, list(world.objects), {d.first.kind}))
    scene = make_scene(world, rng, d)
    wording = sample_wording(world, rng, pair=False)
    joined = Wording(wording.template.replace("{first}", "{first} and {second}"), wording.phrase)
    return Example(scene, d, Description(d.first, added), wording, joined)


def add_att(world: World, rng: np.random.Generator) -> Example:
    """The positive leaves an object's colour out; the negative gives it a wrong one."""
    d = _with_second(world, rng)
    which = _pick_object(rng, d)
    thing = getattr(d, which)
    positive = replace(d, **{which: replace(thing, color=None)})
    wrong = _other(rng, list(world.colors), {thing.color})
    scene = make_scene(world, rng, d)
    wording = sample_wording(world, rng, pair=True)
    return Example(scene, positive, replace(d, **{which: replace(thing, color=wrong)}), wording, wording)


BUILDERS: dict[str, Callable[[World, np.random.Generator], Example]] = {
    "replace_obj": replace_obj,
    "replace_att": replace_att,
    "replace_rel": replace_rel,
    "swap_obj": swap_obj,
    "swap_att": swap_att,
    "add_obj": add_obj,
    "add_att": add_att,
}
SUBSETS = tuple(BUILDERS)


def build_subset(world: World, subset: str, n: int, seed: int) -> list[Example]:
    """``n`` checked examples of one subset; item ``i`` depends on ``(seed, subset, i)`` only."""
    code = SUBSETS.index(subset)
    examples = []
    for index in range(n):
        example = BUILDERS[subset](world, np.random.default_rng([seed, 100 + code, index]))
        if not holds(world, example.positive, example.scene) or holds(world, example.negative, example.scene):
            raise RuntimeError(f"{subset} item {index}: negative is not false for its scene (a bug)")
        examples.append(example)
    return examples


def write_compositional(world: World, folder: Path, n: int, seed: int) -> dict[str, int]:
    """Write every subset's JSON and images (in shards, in subset and item order) into ``folder``;
    returns the item count per subset."""
    renderer, counts = Renderer(world), {}
    with ShardWriter(folder) as writer:
        for subset in tqdm(SUBSETS, desc="compositional", unit="subset"):
            records = {}
            for index, example in enumerate(build_subset(world, subset, n, seed)):
                item_id = f"{subset}-{index:05d}"
                filename = f"{item_id}.png"
                records[item_id] = {
                    "filename": filename,
                    "shard": writer.add(filename, png_bytes(renderer.render(example.scene))),
                    "caption": compose(world, example.wording, example.positive),
                    "negative_caption": compose(world, example.negative_wording, example.negative),
                }
            write_json(folder / f"{subset}.json", records)
            counts[subset] = len(records)
    log.info("wrote %s compositional items to %s", counts, folder)
    return counts
