"""Zero-shot eval sets from the world: GenPairs-world, Paste-world and single objects.

Each set is a folder with ``shards/`` (its PNGs, :mod:`compclip.shards`), ``items.parquet`` (``id``,
``image`` and ``shard``: the PNG and the shard holding it, ``label`` = the object
kind, ``accessory``, ``pmi`` = PMI(label, accessory) in the pretraining corpus, ``stratum``; the
last three null for single objects; plus ``color``, ``size``, ``relation``) and ``evalset.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from compclip.evalsets.strata import allocate, assign_strata
from compclip.rejects import Rejects
from compclip.shards import ShardWriter
from compclip.storage import write_json, write_parquet
from compclip.world.files import png_bytes
from compclip.world.preset import World
from compclip.world.render import Renderer, to_uint8
from compclip.world.scene import Box, Description, Scene, Thing, make_scene, random_object

log = logging.getLogger(__name__)


class PMISource(Protocol):
    """What the builders need of a PMI table (:class:`compclip.pmi.PMITable` has it)."""

    header: dict

    def pmi(self, c1: str, c2: str) -> float: ...


@dataclass(frozen=True)
class Pairs:
    """(class, accessory) pairs with their PMI and stratum."""

    labels: list[str]
    accessories: list[str]
    pmi: np.ndarray
    strata: np.ndarray


@dataclass(frozen=True)
class Item:
    label: str
    image: np.ndarray
    accessory: str | None = None
    pmi: float | None = None
    stratum: int | None = None
    color: str | None = None
    size: str | None = None
    relation: str | None = None


def stratified_pairs(world: World, table: PMISource, n_strata: int, rejects: Rejects) -> Pairs:
    """Every (object kind, accessory) pair with a PMI (NaN: outside the vocabulary, counted and skipped)."""
    labels, accessories, values = [], [], []
    for label in world.objects:
        for accessory in world.accessories:
            value = table.pmi(label, accessory)
            if math.isnan(value):
                rejects.add("pair_not_in_pmi_vocabulary", f"{label}+{accessory}")
                continue
            labels.append(label)
            accessories.append(accessory)
            values.append(value)
    pmi = np.asarray(values, dtype=np.float64)
    return Pairs(labels, accessories, pmi, assign_strata(pmi, n_strata))


def item_rng(seed: int, name: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, int.from_bytes(name.encode()[:8], "little"), index])


def genpairs_items(world: World, pairs: Pairs, per_stratum: int, seed: int) -> list[Item]:
    """The class object and the accessory in a random relation, ``per_stratum`` images per stratum."""
    renderer, relations = Renderer(world), list(world.relations)
    chosen = allocate(pairs.strata, per_stratum, np.random.default_rng([seed, 0]))
    items = []
    for index, p in enumerate(tqdm(chosen, desc="genpairs-world", unit="img", mininterval=2)):
        rng = item_rng(seed, "genpairs", index)
        relation = relations[int(rng.integers(len(relations)))]
        obj = random_object(world, rng, pairs.labels[p])
        scene = make_scene(world, rng, Description(obj, Thing(pairs.accessories[p]), relation))
        items.append(_pair_item(renderer.render(scene), scene, pairs, p))
    return items


def paste_items(
    world: World, pairs: Pairs, per_stratum: int, seed: int, area: float, card: tuple[int, int, int]
) -> list[Item]:
    """A single-object scene, the accessory pasted on a card of ``area`` of the image, off the object."""
    renderer, s = Renderer(world), world.image_size
    side = round(s * math.sqrt(area))
    chosen = allocate(pairs.strata, per_stratum, np.random.default_rng([seed, 1]))
    items = []
    for index, p in enumerate(tqdm(chosen, desc="paste-world", unit="img", mininterval=2)):
        rng = item_rng(seed, "paste", index)
        scene = make_scene(world, rng, Description(random_object(world, rng, pairs.labels[p])))
        x, y = free_corner(rng, s, side, scene.boxes[0])
        image = renderer.draw(scene)
        image[y : y + side, x : x + side] = card
        renderer.blend(image, Thing(pairs.accessories[p]), x, y, side)
        items.append(_pair_item(to_uint8(image), scene, pairs, p))
    return items


def free_corner(rng: np.random.Generator, s: int, side: int, box: Box) -> tuple[int, int]:
    """A random top-left corner of a ``side`` square in the image, among those covering least of ``box``."""
    starts = np.arange(s - side + 1)
    ox = np.clip(np.minimum(starts + side, box.x + box.side) - np.maximum(starts, box.x), 0, None)
    oy = np.clip(np.minimum(starts + side, box.y + box.side) - np.maximum(starts, box.y), 0, None)
    covered = oy[:, None] * ox[None, :]
    ys, xs = np.nonzero(covered == covered.min())
    k = int(rng.integers(len(xs)))
    return int(xs[k]), int(ys[k])


def single_items(world: World, per_class: int, seed: int) -> list[Item]:
    """One object per image, ``per_class`` images of each kind."""
    renderer, items = Renderer(world), []
    for index in tqdm(range(per_class * len(world.objects)), desc="single", unit="img", mininterval=2):
        rng = item_rng(seed, "single", index)
        obj = random_object(world, rng, list(world.objects)[index % len(world.objects)])
        image = renderer.render(make_scene(world, rng, Description(obj)))
        items.append(Item(obj.kind, image, color=obj.color, size=obj.size))
    return items


def _pair_item(image: np.ndarray, scene: Scene, pairs: Pairs, p: int) -> Item:
    first = scene.description.first
    return Item(first.kind, image, pairs.accessories[p], float(pairs.pmi[p]), int(pairs.strata[p]),
                first.color, first.size, scene.description.relation)  # fmt: skip


def write_evalset(folder: Path, name: str, items: list[Item], header: dict) -> None:
    """Write the images (PNGs in shards, :mod:`compclip.shards`), ``items.parquet`` and
    ``evalset.json`` of one zero-shot set."""
    ids = [f"{name}-{i:06d}" for i in range(len(items))]
    paths = [f"{item_id}.png" for item_id in ids]
    with ShardWriter(folder) as writer:
        shards = [writer.add(path, png_bytes(item.image)) for path, item in zip(paths, items, strict=True)]

    def column(get: Callable[[Item], object], kind: pa.DataType) -> pa.Array:
        return pa.array([get(item) for item in items], kind)

    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "image": pa.array(paths, pa.string()),
            "shard": pa.array(shards, pa.string()),
            "label": column(lambda i: i.label, pa.string()),
            "accessory": column(lambda i: i.accessory, pa.string()),
            "pmi": column(lambda i: i.pmi, pa.float64()),
            "stratum": column(lambda i: i.stratum, pa.int64()),
            "color": column(lambda i: i.color, pa.string()),
            "size": column(lambda i: i.size, pa.string()),
            "relation": column(lambda i: i.relation, pa.string()),
        }
    )
    write_parquet(folder / "items.parquet", table)
    write_json(folder / "evalset.json", {"kind": "zeroshot", "name": name, "n": len(items), **header})
    log.info("wrote %d %s items to %s", len(items), name, folder)


def strata_summary(pairs: Pairs) -> list[dict]:
    """Per stratum: pairs and their PMI range (JSON-safe: -inf as the string "-inf")."""
    rows = []
    for stratum in np.unique(pairs.strata):
        values = pairs.pmi[pairs.strata == stratum]
        low, high = float(values.min()), float(values.max())
        rows.append({"stratum": int(stratum), "pairs": len(values),
                     "pmi_min": low if math.isfinite(low) else "-inf",
                     "pmi_max": high if math.isfinite(high) else "-inf"})  # fmt: skip
    return rows
