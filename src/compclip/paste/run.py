"""The ImageNet-paste stage: an accessory chosen by PMI stratum, cut out and pasted on each image.

Input: an ImageNet-style folder (one folder per class, images inside; local or s3://). A class
folder's name is its class: through ``class_map`` (lines ``FOLDER<TAB>NAME``), or, for the 1,000
WordNet-id folders of ImageNet, the packaged class names in class-index order (sorted ids), or else
the folder name with ``_`` read as a space. Each class's candidate accessories are split into PMI
strata (:func:`~compclip.evalsets.strata.assign_strata`) and its images take the strata in turn
from a seeded offset, so every class spreads over the strata; the accessory is a seeded choice
inside the stratum. Accessory images come from a folder (``NAME.png``/``.jpg``, NAME a concept) or
are painted by FLUX on white (one per concept, cached in the work folder). Work goes in chunks of
images: resumable and shardable like GenPairs (:mod:`compclip.chunks`).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
import shutil
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from compclip import storage
from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.config import Checked, PositiveInt, Range, Share
from compclip.errors import UserError
from compclip.evalsets.generated import write_evalset
from compclip.evalsets.strata import assign_strata
from compclip.evalsets.zeroshot import item_rng
from compclip.genpairs.images import FluxConfig, FluxPainter, Painter, image_seed
from compclip.genpairs.pairs import class_pmi
from compclip.genpairs.vocabulary import (
    IMAGENET,
    ClassConcepts,
    class_concepts,
    class_lines,
    nameable_concepts,
)
from compclip.paste.cutout import cut_out, paste
from compclip.pmi import PMITable
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

WNID = re.compile(r"^n\d{8}$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
PROMPT = "a photo of a single {} isolated on a plain white background"
SCHEMA = pa.schema(
    [("id", pa.string()), ("image", pa.string()), ("label", pa.string()), ("accessory", pa.string()),
     ("pmi", pa.float64()), ("stratum", pa.int64()), ("base_image", pa.string()), ("x", pa.int64()),
     ("y", pa.int64()), ("width", pa.int64()), ("height", pa.int64())]
)  # fmt: skip


@dataclass(frozen=True)
class PasteConfig(Checked):
    seed: int = 0
    n_strata: PositiveInt = 10
    area: Annotated[float, Range(0, 1, open_low=True)] = (
        0.1  # share of the base image the accessory's box covers
    )
    tolerance: Annotated[int, Range(0, 255)] = (
        30  # accessory mask: max channel distance from white that is still background
    )
    min_count: PositiveInt = 100  # captions a candidate accessory must occur in (generated accessories)
    class_map: str | None = None  # file of FOLDER<TAB>CLASS NAME lines
    chunk: PositiveInt = 64  # images per unit of work (resume and shard granularity)
    max_reject_share: Share = 0.1  # of base images, before the run fails
    flux: FluxConfig = field(default_factory=FluxConfig)


@dataclass(frozen=True)
class PasteItem:
    item_id: str
    base: str  # URI of the base image
    label: str
    accessory: str
    pmi: float
    stratum: int


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def folder_names(folders: list[str], class_map: str | None) -> dict[str, str]:
    """The class name of each class folder (see the module docstring)."""
    if class_map:
        lines = storage.read_bytes(class_map).decode().splitlines()
        mapping = dict(line.split("\t", 1) for line in lines if "\t" in line and not line.startswith("#"))
        missing = sorted(set(folders) - set(mapping))
        if missing:
            raise UserError(f"{class_map}: no class name for folders {missing[:5]}")
        return {f: mapping[f].strip() for f in folders}
    imagenet = class_lines(IMAGENET)
    if len(folders) == len(imagenet) and all(WNID.match(f) for f in folders):
        return dict(zip(sorted(folders), imagenet, strict=True))
    return {f: f.replace("_", " ") for f in folders}


def base_images(images: str, class_map: str | None) -> list[tuple[str, str]]:
    """``(image URI, class name)`` of every image of an ImageNet-style folder, sorted by URI."""
    files = storage.expand([images], keep=is_image)
    folders = {uri: uri.rstrip("/").split("/")[-2] for uri in files}
    names = folder_names(sorted(set(folders.values())), class_map)
    return [(uri, names[folders[uri]]) for uri in files]


def accessory_files(folder: str | None, table: PMITable, rejects: Rejects) -> dict[str, str]:
    """Concept -> image URI of a folder of ``CONCEPT.png`` files (each one in-vocabulary concept)."""
    if folder is None:
        return {}
    found = {}
    for uri in storage.expand([folder], keep=is_image):
        stem = Path(uri).stem.replace("_", " ")
        concept = table.concepts(stem)
        if len(concept) != 1 or concept[0] not in table.index:
            rejects.add("accessory_not_in_pmi_vocabulary", stem)
        else:
            found[concept[0]] = uri
    return found


def plan(
    bases: list[tuple[str, str]],
    classes: list[ClassConcepts],
    candidates: list[str],
    table: PMITable,
    config: PasteConfig,
) -> list[PasteItem]:
    """One item per base image of a known class: its accessory and the pair's PMI and stratum."""
    by_name = {c.name: c for c in classes}
    per_class: dict[str, list[str]] = defaultdict(list)
    for uri, label in bases:
        if label in by_name:
            per_class[label].append(uri)
    ids = np.array([table.index[c] for c in candidates], dtype=np.int64)
    chosen: dict[str, PasteItem] = {}
    for label, uris in per_class.items():
        cls = by_name[label]
        usable = ~np.isin(ids, [table.index[c] for c in cls.concepts])
        if not usable.any():
            continue
        pmi = class_pmi(table, cls, ids[usable])
        strata = assign_strata(pmi, config.n_strata)
        levels = np.unique(strata)
        rng = np.random.default_rng([config.seed, zlib.crc32(label.encode())])
        offset = int(rng.integers(len(levels)))
        names = [c for c, u in zip(candidates, usable, strict=True) if u]
        for j, uri in enumerate(uris):
            stratum = levels[(j + offset) % len(levels)]
            k = int(rng.choice(np.flatnonzero(strata == stratum)))
            chosen[uri] = PasteItem("", uri, label, names[k], float(pmi[k]), int(stratum))
    items = [chosen[uri] for uri, _ in bases if uri in chosen]
    return [dataclasses.replace(item, item_id=f"paste-{i:06d}") for i, item in enumerate(items)]


class Accessories:
    """Cutouts of accessories: from files, or painted on white once per concept into a cache folder."""

    def __init__(
        self, files: dict[str, str], cache: Path, painter: Callable[[], Painter], config: PasteConfig
    ):
        self.files, self.cache, self.make_painter, self.config = files, cache, painter, config
        self.painter: Painter | None = None

    def images(self, concepts: list[str]) -> dict[str, Image.Image]:
        missing = sorted({c for c in concepts if c not in self.files and not self._cached(c).is_file()})
        if missing:
            self.painter = self.painter or self.make_painter()
            painted = self.painter.paint(
                [PROMPT.format(c) for c in missing], [image_seed(self.config.seed, c, 0) for c in missing]
            )
            for concept, image in zip(missing, painted, strict=True):
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                storage.atomic_write_bytes(self._cached(concept), buffer.getvalue())
        return {c: _open(self.files.get(c) or str(self._cached(c))) for c in set(concepts)}

    def _cached(self, concept: str) -> Path:
        return self.cache / f"{concept}.png"


def _open(uri: str) -> Image.Image:
    with storage.open_uri(uri) as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def paste_chunk(items: list[PasteItem], accessories: Accessories, images: Path, config: PasteConfig):
    """Paste each item's accessory onto its base image; rows of the pasted items, rejects counted."""
    rejects, rows = Rejects(), []
    cutouts = {
        c: cut_out(image, config.tolerance)
        for c, image in accessories.images([i.accessory for i in items]).items()
    }
    for item in items:
        cutout = cutouts[item.accessory]
        if cutout is None:
            rejects.add("accessory_without_foreground", item.accessory)
            continue
        try:
            base = _open(item.base)
        except (UnidentifiedImageError, OSError) as err:
            rejects.add("unreadable_image", f"{item.base}: {err}")
            continue
        index = int(item.item_id.rsplit("-", 1)[1])
        image, (x, y, w, h) = paste(base, cutout, config.area, item_rng(config.seed, "paste", index))
        image.save(images / f"{item.item_id}.png")
        rows.append({"id": item.item_id, "image": f"images/{item.item_id}.png", "label": item.label,
                     "accessory": item.accessory, "pmi": item.pmi, "stratum": item.stratum,
                     "base_image": item.base, "x": x, "y": y, "width": w, "height": h})  # fmt: skip
    return rows, rejects


def paste_set(
    images: str,
    pmi: str,
    out: str,
    config: PasteConfig = PasteConfig(),
    accessories: str | None = None,
    shard: Shard | None = None,
    work_dir: str | Path | None = None,
    painter: Callable[[], Painter] | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> dict:
    """Build this shard's part of ImageNet-paste into ``out``; return its metrics."""
    shard, images, pmi, out = shard or Shard(), str(images), str(pmi), str(out)
    table = PMITable.load(pmi)
    selection = Rejects()
    bases = base_images(images, config.class_map)
    names = list(dict.fromkeys(label for _, label in bases))
    classes = class_concepts(names, table, selection)
    files = accessory_files(accessories, table, selection)
    candidates = (
        sorted(files)
        if accessories
        else nameable_concepts(table.names, config.min_count, list(table.counts), selection, adjectives=False)
    )
    items = plan(bases, classes, candidates, table, config)
    if not items:
        raise UserError(f"paste: nothing to paste ({len(bases)} images, {len(candidates)} accessories, "
                        f"{selection.as_dict()})")  # fmt: skip
    fingerprint = {"pmi": table.header, "images": images, "accessories": accessories,
                   "config": dataclasses.asdict(config), "shard": dataclasses.asdict(shard)}  # fmt: skip
    fingerprint["config"]["flux"].pop("device")
    work = Work(work_folder(work_dir, out, "paste", shard), fingerprint)
    source = Accessories(
        files, work.folder / "accessories", painter or (lambda: FluxPainter.load(config.flux)), config
    )
    chunks = shard.chunks(len(items), config.chunk)
    rows, rejects, resumed = run_chunks(
        work, chunks, lambda r: paste_chunk([items[i] for i in r], source, work.images, config), after_chunk
    )
    n_images = sum(len(r) for _, r in chunks)
    rejects.check(n_images, config.max_reject_share, f"paste {images}")
    header = {"name": "paste", "classes": names, "seed": config.seed, "paste_area": config.area,
              "pmi_table": {"path": pmi, **table.header}, "images": images,
              "accessories": accessories or "flux",
              "selection": {"base_images": len(bases), "items": len(items), "candidates": len(candidates),
                            "classes_in_vocabulary": len(classes), "rejects": selection.as_dict()},
              "shard": f"{shard.index}/{shard.count}"}  # fmt: skip
    metrics = {"n": len(rows), "base_images": n_images, "chunks": len(chunks), "chunks_resumed": resumed,
               **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
    write_evalset(out, rows, SCHEMA, work.images, header, metrics)
    shutil.rmtree(work.folder)
    return metrics
