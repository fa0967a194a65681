"""Scenes: what is in an image (a description) and where (boxes), and when a description is true.

A :class:`Description` names a first thing, optionally a second one and the relation saying where
the second lies relative to the first. Things of a scene carry every attribute; a description used
as a caption or a claim leaves unmentioned attributes as None.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compclip.world.preset import World


@dataclass(frozen=True)
class Thing:
    """An object (with colour and size) or an accessory (kind only)."""

    kind: str
    color: str | None = None
    size: str | None = None


@dataclass(frozen=True)
class Description:
    first: Thing
    second: Thing | None = None
    relation: str | None = None  # where ``second`` lies relative to ``first``


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    side: int

    def span(self, axis: str) -> tuple[int, int]:
        start = self.x if axis == "x" else self.y
        return start, start + self.side


@dataclass(frozen=True)
class Scene:
    description: Description
    boxes: tuple[Box, ...]  # one per thing, first then second
    background: tuple[int, int, int]

    @property
    def things(self) -> tuple[Thing, ...]:
        d = self.description
        return (d.first,) if d.second is None else (d.first, d.second)


def random_object(world: World, rng: np.random.Generator, kind: str | None = None) -> Thing:
    """An object of ``kind`` (uniform when None) with a uniform colour and size."""
    kind = kind if kind is not None else _pick(rng, list(world.objects))
    return Thing(kind, _pick(rng, list(world.colors)), _pick(rng, list(world.sizes)))


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _along(rng: np.random.Generator, s: int, first: int, second: int, before: bool) -> tuple[int, int]:
    """Positions on the relation's axis with ``second`` wholly before (or after) ``first``."""
    gap = max(1, s // 32)
    slack = s - first - second - gap
    lead = int(rng.integers(slack + 1))
    extra = int(rng.integers(slack - lead + 1))
    if before:
        return lead + second + gap + extra, lead
    return lead, lead + first + gap + extra


def _across(rng: np.random.Generator, s: int, first: int, second: int) -> tuple[int, int]:
    """Positions on the other axis, the two spans overlapping (so no other relation holds)."""
    p_first = int(rng.integers(s - first + 1))
    jitter = min(first, second) // 3
    centre = p_first + first / 2 + int(rng.integers(-jitter, jitter + 1))
    return p_first, int(np.clip(round(centre - second / 2), 0, s - second))


def make_scene(world: World, rng: np.random.Generator, description: Description) -> Scene:
    """Lay out a description (every attribute set) at random positions on a random background."""
    s = world.image_size
    low, high = world.background
    background = tuple(int(v) for v in rng.integers(low, high + 1, size=3))
    first = world.size_px(description.first.size)
    if description.second is None:
        x, y = (int(v) for v in rng.integers(s - first + 1, size=2))
        return Scene(description, (Box(x, y, first),), background)
    second = world.size_px(description.second.size)
    relation = world.relations[description.relation]
    a_main, b_main = _along(rng, s, first, second, relation.before)
    a_other, b_other = _across(rng, s, first, second)
    if relation.axis == "x":
        boxes = (Box(a_main, a_other, first), Box(b_main, b_other, second))
    else:
        boxes = (Box(a_other, a_main, first), Box(b_other, b_main, second))
    return Scene(description, boxes, background)


def related(world: World, relation: str, first: Box, second: Box) -> bool:
    """Whether ``second`` lies ``relation`` (e.g. left of) ``first``: wholly before or after it."""
    r = world.relations[relation]
    (a0, a1), (b0, b1) = first.span(r.axis), second.span(r.axis)
    return b1 <= a0 if r.before else b0 >= a1


def _matches(claim: Thing, thing: Thing) -> bool:
    return (
        claim.kind == thing.kind and claim.color in (None, thing.color) and claim.size in (None, thing.size)
    )


def holds(world: World, claim: Description, scene: Scene) -> bool:
    """Whether the scene shows what ``claim`` says (unset attributes and relation match anything)."""
    things, boxes = scene.things, scene.boxes
    firsts = [i for i, t in enumerate(things) if _matches(claim.first, t)]
    if claim.second is None:
        return bool(firsts)
    seconds = [j for j, t in enumerate(things) if _matches(claim.second, t)]
    return any(
        i != j and (claim.relation is None or related(world, claim.relation, boxes[i], boxes[j]))
        for i in firsts
        for j in seconds
    )
