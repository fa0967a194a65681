"""Captions of world scenes: templates from the preset filled with noun and relation phrases.

A caption is a pure function of a template, a relation-phrase choice and a description; the
compositional eval sets build hard negatives by changing the description and keeping the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from compclip.world.preset import World
from compclip.world.scene import Description, Scene, Thing


@dataclass(frozen=True)
class Wording:
    """The choices that turn a description into text."""

    template: str
    phrase: int  # relation phrase index, modulo the number of phrases of the relation


def noun_phrase(thing: Thing) -> str:
    """``"a large red cube"``, ``"an umbrella"``: the mentioned attributes, the kind, an article."""
    words = " ".join(w for w in (thing.size, thing.color, thing.kind) if w is not None)
    return ("an " if words[0] in "aeiou" else "a ") + words


def compose(world: World, wording: Wording, description: Description) -> str:
    """Fill the template; the text starts with a capital letter."""
    fields = {"first": noun_phrase(description.first)}
    if description.second is not None:
        fields["second"] = noun_phrase(description.second)
    if description.relation is not None:
        relation = world.relations[description.relation]
        inverse = world.relations[relation.inverse]
        fields["rel"] = relation.phrases[wording.phrase % len(relation.phrases)]
        fields["inv"] = inverse.phrases[wording.phrase % len(inverse.phrases)]
    text = wording.template.format(**fields)
    return text[0].upper() + text[1:]


def sample_wording(world: World, rng: np.random.Generator, pair: bool) -> Wording:
    templates = world.templates.pair if pair else world.templates.single
    phrases = math.lcm(*(len(r.phrases) for r in world.relations.values()))
    return Wording(templates[int(rng.integers(len(templates)))], int(rng.integers(phrases)))


def mentioned(world: World, rng: np.random.Generator, thing: Thing) -> Thing:
    """The thing as a caption names it: each object attribute kept with its mention probability."""
    if thing.color is None:
        return thing
    keep_size, keep_color = rng.random(2) < (world.mention.size, world.mention.color)
    return replace(thing, size=thing.size if keep_size else None, color=thing.color if keep_color else None)


def sample_caption(world: World, rng: np.random.Generator, scene: Scene) -> str:
    """A random true caption of the scene."""
    d = scene.description
    second = mentioned(world, rng, d.second) if d.second is not None else None
    if d.second is not None and d.second.color is None and rng.random() >= world.mention.accessory:
        second = None  # the accessory is in the image but not in the caption
    told = Description(mentioned(world, rng, d.first), second, d.relation if second is not None else None)
    return compose(world, sample_wording(world, rng, second is not None), told)
