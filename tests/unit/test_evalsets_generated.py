"""Generated sets (GenPairs, ImageNet-paste) written into image shards, and merged from a job's parts,
those written before the shards (a file an image) included."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from compclip.dataset import read_image, read_images
from compclip.evalsets.generated import merge_evalsets, write_evalset

SCHEMA = pa.schema([("id", pa.string()), ("image", pa.string()), ("clean_image", pa.string())])
HEADER = {"name": "paste", "classes": ["cube"], "seed": 0}


def work_images(folder, ids):
    """A work folder's images as a generator leaves them: ``ID.png`` and ``clean-ID.jpg``."""
    folder.mkdir(parents=True)
    images = {}
    for item_id in ids:
        for name in (f"{item_id}.png", f"clean-{item_id}.jpg"):
            images[name] = hashlib.sha256(name.encode()).digest() * (2 + len(images))
            (folder / name).write_bytes(images[name])
    return images


def items(ids):
    return [{"id": i, "image": f"images/{i}.png", "clean_image": f"images/clean-{i}.jpg"} for i in ids]


def write_part(tmp_path, name, ids, shard):
    images = work_images(tmp_path / f"work-{name}", ids)
    write_evalset(
        str(tmp_path / name),
        items(ids),
        SCHEMA,
        tmp_path / f"work-{name}",
        {**HEADER, "shard": shard},
        {"n": len(ids)},
    )
    return images


def rows(folder):
    return pq.read_table(folder / "items.parquet").to_pylist()


def test_a_set_packs_its_images_into_shards_in_item_order_the_same_bytes_every_time(tmp_path):
    images = write_part(tmp_path, "one", ["a", "b"], "0/1")
    write_part(tmp_path, "again", ["a", "b"], "0/1")
    assert rows(tmp_path / "one") == [
        {
            "id": i,
            "image": f"{i}.png",
            "shard": "shards/000000.tar",
            "clean_image": f"clean-{i}.jpg",
            "clean_shard": "shards/000000.tar",
        }
        for i in ("a", "b")
    ]
    assert sorted(p.relative_to(tmp_path / "one").as_posix() for p in (tmp_path / "one").rglob("*")) == [
        "_compclip.json", "evalset.json", "items.parquet", "metrics.json", "shards",
        "shards/000000.json", "shards/000000.tar",
    ]  # fmt: skip
    for row in rows(tmp_path / "one"):
        assert read_image(str(tmp_path / "one"), row) == images[row["image"]]
        clean = {"image": row["clean_image"], "shard": row["clean_shard"]}
        assert read_image(str(tmp_path / "one"), clean) == images[row["clean_image"]]
    for name in ("shards/000000.tar", "shards/000000.json", "items.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()


def test_merge_renumbers_each_parts_shards_and_keeps_a_part_of_the_older_layout(tmp_path):
    first = write_part(tmp_path, "p0", ["a", "b"], "0/3")
    second = write_part(tmp_path, "p1", ["c"], "1/3")
    old = tmp_path / "p2"  # written before the shards: the images are files of the set
    third = work_images(old / "images", ["d"])
    pq.write_table(pa.Table.from_pylist(items(["d"]), schema=SCHEMA), old / "items.parquet")
    (old / "evalset.json").write_text(json.dumps({"kind": "zeroshot", "n": 1, **HEADER, "shard": "2/3"}))
    (old / "metrics.json").write_text(json.dumps({"n": 1}))
    merged = tmp_path / "merged"
    assert merge_evalsets([str(tmp_path / p) for p in ("p0", "p1", "p2")], str(merged)) == {"n": 4}
    got = {row["id"]: row for row in rows(merged)}
    assert [got[i]["shard"] for i in "abcd"] == ["shards/000000.tar"] * 2 + ["shards/000001.tar", None]
    assert got["d"]["image"] == "images/d.png" and (merged / "images/d.png").is_file()
    expected = {**first, **second, **{f"images/{k}": v for k, v in third.items()}}
    for row in got.values():
        for image, shard in (("image", "shard"), ("clean_image", "clean_shard")):
            assert read_image(str(merged), {"image": row[image], "shard": row[shard]}) == expected[row[image]]


def test_a_part_whose_shard_is_lost_keeps_its_number_and_its_images_become_rejects(tmp_path):
    write_part(tmp_path, "p0", ["a"], "0/2")
    second = write_part(tmp_path, "p1", ["b"], "1/2")
    (tmp_path / "p0/shards/000000.tar").unlink()
    merge_evalsets([str(tmp_path / "p0"), str(tmp_path / "p1")], str(tmp_path / "merged"))
    got = {row["id"]: row for row in rows(tmp_path / "merged")}
    assert (got["a"]["shard"], got["b"]["shard"]) == ("shards/000000.tar", "shards/000001.tar")
    assert read_image(str(tmp_path / "merged"), got["b"]) == second["b.png"]
    assert not list(read_images(str(tmp_path / "merged"), [got["a"]], failed := {}))
    assert failed == {"shards/000000.tar/a.png": "shard truncated"}
