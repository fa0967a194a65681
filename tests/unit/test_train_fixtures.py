"""A tiny image-caption dataset (PIL-drawn 64x64 PNGs) with negatives, shared by the train tests."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 60, 220), "yellow": (230, 220, 40)}
SHAPES = ("square", "circle")
TYPES = ("attribute", "object", "relation", "swap", "count")


def write_dataset(folder: Path, n: int = 16, k: int = 5, captions: int = 1) -> tuple[Path, Path]:
    """``n`` images of a coloured shape, ``captions`` captions each (COCO-style rows sharing the
    image's ``id``), and ``k`` negatives per caption, each caption's its own."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows, negatives = [], []
    colours = list(COLOURS)
    for i in range(n):
        colour, shape = colours[i % len(colours)], SHAPES[(i // len(colours)) % len(SHAPES)]
        image = Image.new("RGB", (64, 64), (245, 245, 245))
        box = (8 + i % 5, 8 + i % 7, 48 + i % 9, 48 + i % 11)
        draw = ImageDraw.Draw(image)
        (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLOURS[colour])
        path = f"images/{i:03d}.png"
        image.save(folder / path)
        others = [c for c in colours if c != colour]
        for c in range(captions):
            tail = f" seen from side {c}" if c else ""
            caption = f"a {colour} {shape} number {i}{tail}"
            rows.append({"id": f"img{i:03d}", "caption": caption, "image": path})
            enhanced = [f"a {others[j % 3]} {shape} number {i + j}{tail}" for j in range(k)]
            record = {"image_id": f"img{i:03d}", "original": caption, "enhanced": enhanced}
            negatives.append({**record, "types": list(TYPES[:k])})
    pq.write_table(pa.Table.from_pylist(rows), folder / "captions.parquet")
    (folder / "dataset.json").write_text(json.dumps({"name": "tiny", "n": n}))
    neg_path = folder / "negatives.json"
    neg_path.write_text(json.dumps(negatives))
    return folder, neg_path


def test_write_dataset_is_readable(tmp_path):
    folder, negatives = write_dataset(tmp_path, n=4, k=2)
    table = pq.read_table(folder / "captions.parquet").to_pylist()
    assert [r["id"] for r in table] == ["img000", "img001", "img002", "img003"]
    assert Image.open(folder / table[0]["image"]).size == (64, 64)
    assert all(len(r["enhanced"]) == 2 for r in json.loads(negatives.read_text()))


def test_coco_style_dataset_has_its_captions_and_negatives_per_caption(tmp_path):
    folder, negatives = write_dataset(tmp_path, n=2, k=2, captions=3)
    table = pq.read_table(folder / "captions.parquet").to_pylist()
    assert [r["id"] for r in table] == ["img000"] * 3 + ["img001"] * 3
    assert len({r["caption"] for r in table}) == 6 and len({r["image"] for r in table}) == 2
    records = json.loads(negatives.read_text())
    assert [r["original"] for r in records] == [r["caption"] for r in table]
    assert len({n for r in records for n in r["enhanced"]}) == 12
