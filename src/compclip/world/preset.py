"""The world a preset YAML describes, as frozen dataclasses: vocabulary, geometry, templates, knobs.

A preset is a package name (``default`` -> ``presets/default.yaml``) or a path to a YAML file;
``overrides`` (a nested dict, e.g. ``{"skew": {"zipf_exponent": 2.0}}``) are merged into it, and
unknown keys are an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compclip.config import from_dict
from compclip.errors import UserError

PRESETS = Path(__file__).parent / "presets"
PART_KINDS = ("disk", "ring", "rect", "poly", "line")
SCENE_KINDS = ("single", "accessory", "pair")


@dataclass(frozen=True)
class Mix:
    single: float
    accessory: float
    pair: float


@dataclass(frozen=True)
class Skew:
    zipf_exponent: float
    never_share: float
    seed: int


@dataclass(frozen=True)
class Mention:
    size: float
    color: float
    accessory: float = 1.0  # probability that a caption names the accessory the image shows


@dataclass(frozen=True)
class Accessory:
    color: tuple[int, int, int]
    parts: tuple[dict, ...]


@dataclass(frozen=True)
class Relation:
    axis: str
    before: bool
    inverse: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Templates:
    single: tuple[str, ...]
    pair: tuple[str, ...]


@dataclass(frozen=True)
class World:
    """Everything that defines the world; ``as_dict`` goes into every output header."""

    image_size: int
    supersample: int
    sizes: dict[str, float]
    accessory_scale: float
    background: tuple[int, int]
    mix: Mix
    skew: Skew
    mention: Mention
    colors: dict[str, tuple[int, int, int]]
    objects: dict[str, tuple[dict, ...]]
    accessories: dict[str, Accessory]
    relations: dict[str, Relation]
    templates: Templates

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def size_px(self, size: str | None) -> int:
        """Side in pixels of an object of ``size`` (None: an accessory)."""
        share = self.accessory_scale if size is None else self.sizes[size]
        return max(3, round(share * self.image_size))


def _merge(base: dict, overrides: dict, where: str) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if key not in base:
            raise UserError(f"{where}: unknown world key {key!r}; known: {sorted(base)}")
        nested = isinstance(value, dict) and isinstance(base[key], dict) and key not in ("sizes", "colors")
        merged[key] = _merge(base[key], value, f"{where}.{key}") if nested else value
    return merged


def load_world(preset: str = "default", overrides: dict[str, Any] | None = None) -> World:
    """Read a preset (package name or YAML path), apply ``overrides`` and check it."""
    path = Path(preset) if preset.endswith((".yaml", ".yml")) else PRESETS / f"{preset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise UserError(f"no world preset {preset!r} (a YAML path or one of {known})")
    data = _merge(yaml.safe_load(path.read_text()), overrides or {}, f"world {preset}")
    data["accessories"] = {
        name: from_dict(Accessory, {"color": tuple(a["color"]), "parts": tuple(a["parts"])}, name)
        for name, a in data["accessories"].items()
    }
    data["relations"] = {name: from_dict(Relation, r, name) for name, r in data["relations"].items()}
    data["colors"] = {name: tuple(rgb) for name, rgb in data["colors"].items()}
    data["objects"] = {name: tuple(parts) for name, parts in data["objects"].items()}
    world = from_dict(World, data, f"world {preset}")
    check_world(world)
    return world


def check_world(world: World) -> None:
    """Raise a UserError for a world that cannot be sampled or rendered."""
    problems = []
    names = [*world.objects, *world.accessories, *world.colors, *world.sizes]
    if len(set(names)) != len(names):
        problems.append("object, accessory, colour and size words must all differ")
    bad_words = [n for n in names if not (n.isalpha() and n.islower())]
    if bad_words:
        problems.append(f"words must be single lowercase words: {bad_words}")
    shares = dataclasses.asdict(world.mix)
    if min(shares.values()) < 0 or sum(shares.values()) <= 0:
        problems.append(f"mix shares must be >= 0 and not all 0: {shares}")
    if not 0 <= world.skew.never_share < 1:
        problems.append("skew.never_share must be in [0, 1)")
    if len(world.objects) < 2 and world.mix.pair > 0:
        problems.append("pair scenes need at least two object kinds")
    for name, relation in world.relations.items():
        if relation.inverse not in world.relations or relation.axis not in ("x", "y"):
            problems.append(f"relation {name!r}: bad inverse or axis")
    for name, parts in [*world.objects.items(), *((n, a.parts) for n, a in world.accessories.items())]:
        kinds = [next((k for k in p if k in PART_KINDS), None) for p in parts]
        if not parts or None in kinds:
            problems.append(f"shape {name!r}: each part needs one of {PART_KINDS}")
    s = world.image_size
    widest = 2 * world.size_px(max(world.sizes, key=world.sizes.__getitem__))
    if widest + 1 > s:
        problems.append(f"two objects of the largest size do not fit side by side in {s} px")
    if problems:
        raise UserError("bad world: " + "; ".join(problems))
