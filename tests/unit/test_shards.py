"""Image shards: written in order and deterministically, streamed and range-read back, and every kind
of bad shard counted per image instead of stopping the reader."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from test_train_fixtures import write_dataset

from compclip.dataset import image_key, read_images, read_rows
from compclip.errors import UserError
from compclip.models import create_model
from compclip.rejects import Rejects
from compclip.shards import ShardWriter, read_image, read_index, stream
from compclip.train.data import DataConfig, load_pairs

IMAGES = [(f"{i:03d}.png", os.urandom(100 + 37 * i)) for i in range(7)]


def write_shards(folder, shard_size=3):
    with ShardWriter(folder, shard_size) as writer:
        placed = [writer.add(name, data) for name, data in IMAGES]
    return placed


def wanted_all(placed):
    wanted = {}
    for shard, (name, _) in zip(placed, IMAGES, strict=True):
        wanted.setdefault(shard, set()).add(name)
    return wanted


def test_writer_fills_fixed_size_shards_and_streams_back_in_write_order(tmp_path):
    placed = write_shards(tmp_path)
    assert placed == ["shards/000000.tar"] * 3 + ["shards/000001.tar"] * 3 + ["shards/000002.tar"]
    failed = {}
    got = list(stream(str(tmp_path), wanted_all(placed), failed))
    assert not failed
    assert [(name, data) for _, name, data in got] == IMAGES
    write_shards(tmp_path / "again")
    for name in ("000000.tar", "000000.json", "000002.tar"):
        assert (tmp_path / "shards" / name).read_bytes() == (
            tmp_path / "again" / "shards" / name
        ).read_bytes()


def test_random_access_reads_one_image_by_its_index(tmp_path):
    write_shards(tmp_path)
    index = read_index(str(tmp_path / "shards/000001.tar"))
    assert sorted(index) == ["003.png", "004.png", "005.png"]
    assert read_image(str(tmp_path), "shards/000001.tar", "004.png", index) == IMAGES[4][1]
    with pytest.raises(UserError, match=r"no image '000\.png'"):
        read_image(str(tmp_path), "shards/000001.tar", "000.png", index)


def test_missing_index_truncated_shard_and_absent_image_are_failures_not_crashes(tmp_path, caplog):
    placed = write_shards(tmp_path)
    (tmp_path / "shards/000000.json").unlink()
    tar = tmp_path / "shards/000001.tar"
    index = read_index(str(tar))
    tar.write_bytes(tar.read_bytes()[: index["004.png"][0] + 10])  # cut inside the second image
    wanted = wanted_all(placed)
    wanted["shards/000002.tar"].add("999.png")
    failed = {}
    got = [name for _, name, _ in stream(str(tmp_path), wanted, failed)]
    assert got == ["003.png", "006.png"]
    assert failed == {
        "shards/000000.tar/000.png": "shard without index (unfinished)",
        "shards/000000.tar/001.png": "shard without index (unfinished)",
        "shards/000000.tar/002.png": "shard without index (unfinished)",
        "shards/000001.tar/004.png": "shard truncated",
        "shards/000001.tar/005.png": "shard truncated",
        "shards/000002.tar/999.png": "image not in its shard",
    }
    assert "shards/000001.tar: shard truncated (2 images, first 004.png)" in caplog.text
    with pytest.raises(UserError, match="cut short"):
        read_image(str(tmp_path), "shards/000001.tar", "005.png", index)


def shard_dataset(folder, tmp_path, shard_size=5):
    """``folder``'s dataset (write_dataset) rewritten with its images in shards."""
    out = tmp_path / "sharded"
    rows = pq.read_table(folder / "captions.parquet").to_pylist()
    shard_of = {}
    with ShardWriter(out, shard_size) as writer:
        for image in sorted({r["image"] for r in rows}):
            shard_of[image] = writer.add(image.rsplit("/", 1)[1], (folder / image).read_bytes())
    rows = [{**r, "image": r["image"].rsplit("/", 1)[1], "shard": shard_of[r["image"]]} for r in rows]
    pq.write_table(pa.Table.from_pylist(rows), out / "captions.parquet")
    return out


def test_a_folder_of_images_and_its_shards_give_the_same_training_pairs(tmp_path):
    folder, negatives = write_dataset(tmp_path / "folder", n=12, captions=2)
    sharded = shard_dataset(folder, tmp_path)
    tokenizer = create_model("compclip-tiny-rn").tokenizer
    config = DataConfig(k_negatives=4)
    old, new = (load_pairs(str(f), tokenizer, 32, config, str(negatives)) for f in (folder, sharded))
    assert torch.equal(old.images, new.images) and torch.equal(old.image_index, new.image_index)
    assert torch.equal(old.tokens, new.tokens) and old.ids == new.ids


def test_a_truncated_shard_is_a_reject_of_each_caption_of_its_images(tmp_path):
    folder, _ = write_dataset(tmp_path / "folder", n=12, captions=2)
    sharded = shard_dataset(folder, tmp_path)
    tar = sharded / "shards/000002.tar"
    tar.write_bytes(tar.read_bytes()[:700])  # 000002 holds images 10 and 11; cut inside image 10
    tokenizer = create_model("compclip-tiny-rn").tokenizer
    with pytest.raises(
        UserError, match=r"4 of 24 records rejected .*shards/000002.tar/010.png: shard truncated"
    ):
        load_pairs(str(sharded), tokenizer, 32, DataConfig(max_reject_share=0.1))
    pairs = load_pairs(str(sharded), tokenizer, 32, DataConfig(max_reject_share=0.2))
    assert pairs.rejects.as_dict() == {"shard truncated": 4}
    assert len(pairs.ids) == 20 and "img010" not in pairs.ids


def test_rows_of_a_folder_and_of_shards_name_their_images(tmp_path):
    folder, _ = write_dataset(tmp_path / "folder", n=3)
    sharded = shard_dataset(folder, tmp_path)
    old, new = read_rows(folder, Rejects()), read_rows(sharded, Rejects())
    assert [image_key(r) for r in old] == ["images/000.png", "images/001.png", "images/002.png"]
    assert [image_key(r) for r in new] == ["shards/000000.tar/000.png", "shards/000000.tar/001.png",
                                           "shards/000000.tar/002.png"]  # fmt: skip
    failed = {}
    assert [d for _, d in read_images(str(folder), old, failed)] == [
        d for _, d in read_images(str(sharded), new, failed)
    ]
    (folder / "images/001.png").unlink()
    assert [k for k, _ in read_images(str(folder), old, failed)] == ["images/000.png", "images/002.png"]
    assert failed == {"images/001.png": "image missing"}
