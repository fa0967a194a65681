"""The ImageNet-paste stage: an accessory chosen by PMI stratum, cut out and pasted on each image.

Input: an ImageNet-style folder (one folder per class, images inside; local or s3://). A class
folder's name is its class: through ``class_map`` (lines ``FOLDER<TAB>NAME``), or, for the 1,000
WordNet-id folders of ImageNet, the packaged class names in class-index order (sorted ids), or else
the folder name with ``_`` read as a space. Each class's candidate accessories are split into PMI
strata (:func:`~compclip.evalsets.strata.assign_strata`) and its images take the strata in turn
from a seeded offset, so every class spreads over the strata; the accessory is a seeded choice
inside the stratum. As in the released code, a class is scored by its head noun and no accessory
is a word of any class name. Accessory images come from a folder (``NAME.png``/``.jpg``, NAME a
concept) or are painted by FLUX on white, once per concept, into an accessory cache that every
shard shares (a folder or an s3:// prefix; :func:`paint_accessories` fills it in one task before
the shards run). Work goes in chunks of images: resumable and shardable like GenPairs
(:mod:`compclip.chunks`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from compclip import outputs, storage
from compclip.chunks import Shard, Work, run_chunks, work_folder
from compclip.errors import UserError
from compclip.evalsets.generated import write_evalset
from compclip.evalsets.strata import assign_strata
from compclip.evalsets.zeroshot import item_rng
from compclip.genpairs.images import FluxConfig, FluxPainter, Painter, image_seed
from compclip.genpairs.pairs import class_pmi
from compclip.genpairs.vocabulary import (
    HEAD,
    IMAGENET,
    CandidateRules,
    ClassConcepts,
    candidate_concepts,
    class_concepts,
    class_lines,
    class_words,
)
from compclip.paste.cutout import cut_out, paste
from compclip.pmi import PMITable
from compclip.rejects import Rejects

log = logging.getLogger(__name__)

WNID = re.compile(r"^n\d{8}$")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
PROMPT = "a {} in the center of a white background"  # the released code's accessory prompt
SCHEMA = pa.schema(
    [("id", pa.string()), ("image", pa.string()), ("label", pa.string()), ("accessory", pa.string()),
     ("pmi", pa.float64()), ("stratum", pa.int64()), ("base_image", pa.string()),
     ("clean_image", pa.string()), ("x", pa.int64()),
     ("y", pa.int64()), ("width", pa.int64()), ("height", pa.int64())]
)  # fmt: skip


@dataclass(frozen=True)
class PasteConfig:
    seed: int = 0
    n_strata: int = 10
    area: float = 0.1  # share of the base image the accessory's box covers
    tolerance: int = 30  # accessory mask: max channel distance from white that is still background
    class_pmi: str = HEAD  # "head": PMI with the class's head noun (released code); "mean": over its name
    candidates: CandidateRules = field(default_factory=lambda: CandidateRules(adjectives=False))
    class_map: str | None = None  # file of FOLDER<TAB>CLASS NAME lines
    accessory_cache: str | None = None  # painted accessories, shared by shards (default: the work folder)
    chunk: int = 64  # images per unit of work (resume and shard granularity)
    max_reject_share: float = 0.1  # of base images, before the run fails
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


def accessory_files(
    folder: str | None, table: PMITable, excluded: frozenset[str], rejects: Rejects
) -> dict[str, str]:
    """Concept -> image URI of a folder of ``CONCEPT.png`` files (each one in-vocabulary concept, none
    of ``excluded``: the class words)."""
    if folder is None:
        return {}
    found = {}
    for uri in storage.expand([folder], keep=is_image):
        stem = Path(uri).stem.replace("_", " ")
        concept = table.concepts(stem)
        if len(concept) != 1 or concept[0] not in table.index:
            rejects.add("accessory_not_in_pmi_vocabulary", stem)
        elif concept[0] in excluded:
            rejects.add("accessory_is_class_word", stem)
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
    """Cutouts of accessories: from files, or painted on white once per concept into a shared cache
    (a folder or an s3:// prefix holding ``CONCEPT.png`` and ``accessories.json``, the settings they
    were painted with; a cache of other settings is refused)."""

    def __init__(
        self, files: dict[str, str], cache: str, painter: Callable[[], Painter], config: PasteConfig
    ):
        self.files, self.cache, self.make_painter, self.config = files, cache.rstrip("/"), painter, config
        self.painter: Painter | None = None
        flux = dataclasses.asdict(config.flux)
        flux.pop("device")
        self.settings = {"prompt": PROMPT, "seed": config.seed, "flux": flux}

    def missing(self, concepts: list[str]) -> list[str]:
        """The concepts neither in the files nor painted yet."""
        return sorted({c for c in concepts if c not in self.files and not storage.exists(self._cached(c))})

    def paint(self, concepts: list[str]) -> None:
        """Paint the missing ones of ``concepts`` into the cache (each file written whole)."""
        missing = self.missing(concepts)
        if not missing:
            return
        self._check_settings()
        self.painter = self.painter or self.make_painter()
        painted = self.painter.paint(
            [PROMPT.format(c) for c in missing], [image_seed(self.config.seed, c, 0) for c in missing]
        )
        for concept, image in zip(missing, painted, strict=True):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            storage.write_bytes(self._cached(concept), buffer.getvalue())

    def images(self, concepts: list[str]) -> dict[str, Image.Image]:
        self.paint(concepts)
        return {c: _open(self.files.get(c) or self._cached(c)) for c in set(concepts)}

    def _check_settings(self) -> None:
        marker = f"{self.cache}/accessories.json"
        text = json.dumps(self.settings, sort_keys=True)
        if storage.exists(marker):
            if storage.read_bytes(marker).decode() != text:
                raise UserError(
                    f"{self.cache} holds accessories painted with other settings; use another cache"
                )
        else:
            outputs.claim_work(self.cache, "paste-accessories")  # never paint into a folder of someone else's
            storage.write_bytes(marker, text.encode())

    def _cached(self, concept: str) -> str:
        return f"{self.cache}/{concept}.png"


def _open(uri: str) -> Image.Image:
    return _decode(storage.read_bytes(uri))


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
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
            data = storage.read_bytes(item.base)
            base = _decode(data)
        except (UnidentifiedImageError, OSError) as err:
            rejects.add("unreadable_image", f"{item.base}: {err}")
            continue
        index = int(item.item_id.rsplit("-", 1)[1])
        image, (x, y, w, h) = paste(base, cutout, config.area, item_rng(config.seed, "paste", index))
        image.save(images / f"{item.item_id}.png")
        clean = f"clean-{item.item_id}{Path(item.base).suffix.lower()}"  # the unedited image, as it was
        storage.atomic_write_bytes(images / clean, data)
        rows.append({"id": item.item_id, "image": f"images/{item.item_id}.png", "label": item.label,
                     "accessory": item.accessory, "pmi": item.pmi, "stratum": item.stratum,
                     "base_image": item.base, "clean_image": f"images/{clean}", "x": x, "y": y, "width": w,
                     "height": h})  # fmt: skip
    return rows, rejects


@dataclass(frozen=True)
class PastePlan:
    table: PMITable
    names: list[str]  # every class name of the image folder
    files: dict[str, str]  # accessory files by concept (with ``--accessories``)
    items: list[PasteItem]
    selection: dict  # what the plan was made of and left out


def make_plan(images: str, pmi: str, config: PasteConfig, accessories: str | None) -> PastePlan:
    """Every base image's accessory, the same in every shard and in :func:`paint_accessories`."""
    table = PMITable.load(pmi)
    rejects = Rejects()
    bases = base_images(images, config.class_map)
    names = list(dict.fromkeys(label for _, label in bases))
    classes = class_concepts(names, table, rejects, by=config.class_pmi)
    excluded = class_words(names, table) if config.candidates.exclude_class_words else frozenset()
    files = accessory_files(accessories, table, excluded, rejects)
    candidates = (
        sorted(files)
        if accessories
        else candidate_concepts(table.names, list(table.counts), config.candidates, excluded, rejects)
    )
    items = plan(bases, classes, candidates, table, config)
    if not items:
        raise UserError(f"paste: nothing to paste ({len(bases)} images, {len(candidates)} accessories, "
                        f"{rejects.as_dict()})")  # fmt: skip
    selection = {"base_images": len(bases), "items": len(items), "candidates": len(candidates),
                 "classes_in_vocabulary": len(classes), "rejects": rejects.as_dict()}  # fmt: skip
    return PastePlan(table, names, files, items, selection)


def _loader(config: PasteConfig, painter: Callable[[], Painter] | None) -> Callable[[], Painter]:
    return painter or (lambda: FluxPainter.load(config.flux))


def paint_accessories(
    images: str,
    pmi: str,
    cache: str,
    config: PasteConfig = PasteConfig(),
    accessories: str | None = None,
    painter: Callable[[], Painter] | None = None,
    batch: int = 16,
) -> dict:
    """Paint every accessory the plan uses and no ``accessories`` file holds into the shared ``cache``
    (local or s3://), ``batch`` concepts at a time (a killed run keeps what it painted); return counts."""
    chosen = make_plan(str(images), str(pmi), config, accessories)
    source = Accessories(chosen.files, str(cache), _loader(config, painter), config)
    needed = sorted({item.accessory for item in chosen.items})
    missing = source.missing(needed)
    for start in range(0, len(missing), batch):
        source.paint(missing[start : start + batch])
    log.info(
        "accessory cache %s: %d painted, %d already there", cache, len(missing), len(needed) - len(missing)
    )
    return {"accessories": len(needed), "painted": len(missing)}


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
    chosen = make_plan(images, pmi, config, accessories)
    items = chosen.items
    fingerprint = {"pmi": chosen.table.header, "images": images, "accessories": accessories,
                   "config": dataclasses.asdict(config), "shard": dataclasses.asdict(shard)}  # fmt: skip
    fingerprint["config"]["flux"].pop("device")
    fingerprint["config"].pop("accessory_cache")  # where painted accessories are kept, not what they are
    work = Work(work_folder(work_dir, out, "paste", shard), fingerprint)
    cache = config.accessory_cache or str(work.folder / "accessories")
    source = Accessories(chosen.files, cache, _loader(config, painter), config)
    chunks = shard.chunks(len(items), config.chunk)
    rows, rejects, resumed = run_chunks(
        work, chunks, lambda r: paste_chunk([items[i] for i in r], source, work.images, config), after_chunk
    )
    n_images = sum(len(r) for _, r in chunks)
    rejects.check(n_images, config.max_reject_share, f"paste {images}")
    header = {"name": "paste", "classes": chosen.names, "seed": config.seed, "paste_area": config.area,
              "pmi_table": {"path": pmi, **chosen.table.header}, "images": images,
              "accessories": accessories or "flux", "selection": chosen.selection,
              "shard": f"{shard.index}/{shard.count}"}  # fmt: skip
    metrics = {"n": len(rows), "base_images": n_images, "chunks": len(chunks), "chunks_resumed": resumed,
                      **{f"rejects/{k}": v for k, v in rejects.as_dict().items()}}  # fmt: skip
    write_evalset(out, rows, SCHEMA, work.images, header, metrics)
    work.remove()
    return metrics
