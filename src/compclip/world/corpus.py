"""``world corpus``: write an image-caption dataset folder sampled from the world.

The folder holds the images as PNGs in tar shards (:mod:`compclip.shards`: ``shards/NNNNNN.tar`` and
its index), ``captions.parquet`` (``id``, ``caption``, ``image``: ``<id>.png``, ``shard``: the shard
that holds it, and the scene: ``scene``, ``object``, ``color``, ``size``, ``accessory``,
``relation``, ``object2``, ``color2``, ``size2``, null when absent), ``dataset.json``
(``kind: image-captions``, ``n``, ``seed``, the world) and ``metrics.json``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from tqdm import tqdm

from compclip.config import Checked, PositiveInt
from compclip.dataset import CAPTIONS, HEADER, SHARD
from compclip.errors import UserError
from compclip.outputs import local_out
from compclip.shards import DEFAULT_SHARD_SIZE, ShardWriter
from compclip.storage import write_json, write_parquet
from compclip.world.files import png_bytes
from compclip.world.preset import SCENE_KINDS, World, load_world
from compclip.world.render import Renderer
from compclip.world.sampler import CorpusSampler
from compclip.world.scene import Scene

log = logging.getLogger(__name__)

METRICS = "metrics.json"
SCENE_COLUMNS = ("scene", "object", "color", "size", "accessory", "relation", "object2", "color2", "size2")

# The named mixes of scene kinds: ``preset``, the preset's own (the default's 20% single, 65%
# object-accessory, 15% two-object scenes: the pretraining corpus's law), and ``pairs``, rich in
# two-object scenes, whose objects are drawn uniformly and both named (the demo's fine-tuning set).
MixName = Literal["preset", "pairs"]
MIXES: dict[str, dict[str, float] | None] = {
    "preset": None,
    "pairs": {"single": 0.1, "accessory": 0.3, "pair": 0.6},
}


@dataclass(frozen=True)
class CorpusConfig(Checked):
    """How many items, the seed, and the world (a preset, a named mix of scene kinds and overrides
    of its values; a mix other than ``preset`` and an override of ``mix`` exclude each other)."""

    n: PositiveInt = 60_000
    seed: int = 0
    preset: str = "default"
    mix: MixName = "preset"
    overrides: dict[str, Any] = field(default_factory=dict)
    shard_size: PositiveInt = DEFAULT_SHARD_SIZE  # images a shard

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mix != "preset" and "mix" in self.overrides:
            raise UserError(f"mix {self.mix!r} and overrides.mix both set the scene mix: give one")

    def world(self) -> World:
        """The world this config samples: the preset, the named mix, the overrides."""
        named = MIXES[self.mix]
        return load_world(self.preset, self.overrides if named is None else {**self.overrides, "mix": named})


def scene_columns(scene: Scene, accessories: set[str]) -> dict[str, str | None]:
    """The structured columns of one scene (see the module docstring)."""
    d = scene.description
    second, is_accessory = d.second, d.second is not None and d.second.kind in accessories
    is_object2 = second is not None and not is_accessory
    return {
        "scene": "single" if second is None else "accessory" if is_accessory else "pair",
        "object": d.first.kind,
        "color": d.first.color,
        "size": d.first.size,
        "accessory": second.kind if is_accessory else None,
        "relation": d.relation,
        "object2": second.kind if is_object2 else None,
        "color2": second.color if is_object2 else None,
        "size2": second.size if is_object2 else None,
    }


def write_corpus(out: str, config: CorpusConfig) -> dict[str, float]:
    """Render ``config.n`` items into the folder ``out`` (path or s3:// URI); return and write the metrics."""
    with local_out(out) as folder:
        return _render_corpus(folder, config)


def _render_corpus(out: Path, config: CorpusConfig) -> dict[str, float]:
    world = config.world()
    sampler, renderer = CorpusSampler(world), Renderer(world)
    accessories = set(world.accessories)
    rows: dict[str, list] = {k: [] for k in ("id", "caption", "image", SHARD, *SCENE_COLUMNS)}
    start = time.perf_counter()
    with ShardWriter(out, config.shard_size) as shards:
        for index in tqdm(range(config.n), desc="world corpus", unit="img", mininterval=2):
            scene, caption = sampler.item(config.seed, index)
            item_id = f"{index:07d}"
            image = f"{item_id}.png"
            shard = shards.add(image, png_bytes(renderer.render(scene)))
            for key, value in (("id", item_id), ("caption", caption), ("image", image), (SHARD, shard)):
                rows[key].append(value)
            for key, value in scene_columns(scene, accessories).items():
                rows[key].append(value)
    seconds = time.perf_counter() - start
    table = pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()})
    write_parquet(out / CAPTIONS, table)
    header = {
        "kind": "image-captions",
        "n": config.n,
        "seed": config.seed,
        "preset": config.preset,
        "mix": config.mix,
        "world": world.as_dict(),
    }
    write_json(out / HEADER, header)
    metrics = corpus_metrics(table, len(world.objects) * len(world.accessories))
    metrics["seconds"] = round(seconds, 3)
    write_json(out / METRICS, metrics)
    log.info("wrote %d images and captions to %s in %.1f s", config.n, out, seconds)
    return metrics


def corpus_metrics(table: pa.Table, n_possible_pairs: int) -> dict[str, float]:
    """Counts per scene kind and how many (object, accessory) pairs occur."""
    columns = table.select(["scene", "object", "accessory"]).to_pydict()
    metrics: dict[str, float] = {"n": len(table)}
    for kind in SCENE_KINDS:
        metrics[f"n_{kind}"] = columns["scene"].count(kind)
    pairs = {(o, a) for o, a in zip(columns["object"], columns["accessory"], strict=True) if a is not None}
    metrics["object_accessory_pairs_seen"] = len(pairs)
    metrics["object_accessory_pairs_never"] = n_possible_pairs - len(pairs)
    return metrics
