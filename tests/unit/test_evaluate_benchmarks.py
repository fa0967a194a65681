"""Benchmark loaders on the real annotation files in ../shared/data, with a generated image root."""

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from compclip.errors import UserError
from compclip.evaluate.benchmarks import aro, order, sugarcrepe, valse
from compclip.evaluate.encode import ImageFiles, ImageRef, existing
from compclip.rejects import Rejects
from compclip.shards import ShardWriter


def make_images(root, names, size=(16, 12)):
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", size, (200, 30, 30)).save(root / name)


def test_sugarcrepe_real_files_with_a_few_images(shared, tmp_path):
    folder = shared / "data" / "sugarcrepe"
    records = json.loads((folder / "swap_obj.json").read_text())
    present = sorted({r["filename"] for r in records.values()})[:3]
    make_images(tmp_path / "coco", present)
    rejects = Rejects()
    items, n_seen = sugarcrepe.load(folder, tmp_path / "coco", rejects)
    assert n_seen == len(items) == 7511 and not rejects.total
    assert {i.subset for i in items} == {"add_att", "add_obj", "replace_att", "replace_obj", "replace_rel",
                                         "swap_att", "swap_obj"}  # fmt: skip
    swap = [i for i in items if i.subset == "swap_obj"]
    assert len(swap) == 245 and swap[0].negatives == (records["0"]["negative_caption"],)
    found = existing([i.image for i in swap], rejects, "sugarcrepe", tmp_path / "coco")
    n_present = sum(r["filename"] in present for r in records.values())
    assert found.sum() == n_present and rejects.counts["missing_image"] == 245 - n_present


def test_sugarcrepe_missing_fields_are_counted(shared, tmp_path):
    records = json.loads((shared / "data" / "sugarcrepe" / "swap_obj.json").read_text())
    del records["0"]["negative_caption"]
    records["1"]["caption"] = "  "
    records["2"] = "not a record"
    (tmp_path / "swap_obj.json").write_text(json.dumps(records))
    rejects = Rejects()
    items, n_seen = sugarcrepe.load(tmp_path / "swap_obj.json", tmp_path, rejects)
    assert n_seen == 245 and len(items) == 242
    assert rejects.as_dict() == {"no_caption": 1, "no_negative_caption": 1, "not_a_record": 1}


def test_image_root_that_matches_nothing_is_one_clear_error(shared, tmp_path):
    items, _ = sugarcrepe.load(shared / "data" / "sugarcrepe" / "swap_att.json", tmp_path, Rejects())
    with pytest.raises(UserError, match="does the image root match the annotations"):
        existing([i.image for i in items], Rejects(), "sugarcrepe", tmp_path)


def test_valse_vote_filter_on_the_real_files(shared, tmp_path):
    rejects = Rejects()
    items, n_seen, dropped = valse.load(shared / "data" / "valse", tmp_path, rejects)
    assert n_seen == 8782 and len(items) == 7702 and sum(dropped.values()) == 1080
    assert dropped["existence"] == 29 and dropped["relations"] == 79 and not rejects.total
    existence = [i for i in items if i.subset == "existence"]
    assert len(existence) == 505 and {i.group for i in existence} == {"visual7w"}
    strict, _, dropped3 = valse.load(shared / "data" / "valse" / "existence.json", tmp_path, Rejects(), 3)
    assert len(strict) + dropped3["existence"] == 534 and len(strict) < 505


def test_valse_missing_votes_and_foil_are_counted(shared, tmp_path):
    records = json.loads((shared / "data" / "valse" / "existence.json").read_text())
    keys = list(records)
    were_kept = sum(records[k]["mturk"]["caption"] >= 2 for k in keys[:2])
    del records[keys[0]]["foil"]
    records[keys[1]]["mturk"] = {"foil": 3}
    (tmp_path / "existence.json").write_text(json.dumps(records))
    rejects = Rejects()
    items, _, _ = valse.load(tmp_path / "existence.json", tmp_path, rejects)
    assert len(items) == 505 - were_kept and rejects.as_dict() == {"no_foil": 1, "no_mturk_caption": 1}


def test_aro_vg_records_boxes_and_groups(tmp_path):
    records = [
        {"image_path": "1.jpg", "bbox_x": 2, "bbox_y": 1, "bbox_w": 6, "bbox_h": 4, "relation_name": "on",
         "true_caption": "the cup is on the table", "false_caption": "the table is on the cup"},
        {"image_path": "1.jpg", "bbox_x": 0, "bbox_y": 0, "bbox_w": 0, "bbox_h": 4, "relation_name": "on",
         "true_caption": "a", "false_caption": "b"},
        {"image_path": "2.jpg", "bbox_x": 0, "bbox_y": 0, "bbox_w": 3, "bbox_h": 3, "relation_name": "under"},
    ]  # fmt: skip
    path = tmp_path / "visual_genome_relation.json"
    path.write_text(json.dumps(records))
    rejects = Rejects()
    items, n_seen = aro.load(path, tmp_path / "vg", rejects, "vg_relation")
    assert n_seen == 3 and len(items) == 1 and rejects.as_dict() == {"bad_bbox": 1, "no_true_caption": 1}
    assert items[0].group == "on" and items[0].image.box == (2.0, 1.0, 6.0, 4.0)
    attribution = [{**records[0], "attributes": ["white", "wooden"]}]
    path.write_text(json.dumps(attribution))
    items, _ = aro.load(path, tmp_path, Rejects(), "vg_attribution")
    assert items[0].group == "white-wooden"


def test_image_files_crop_to_the_box_and_flag_corrupt_files(tmp_path):
    make_images(tmp_path, ["a.png"], size=(20, 10))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    refs = [ImageRef(str(tmp_path / "a.png"), (2, 1, 6, 4)), ImageRef(str(tmp_path / "bad.png"))]
    data = ImageFiles(refs, lambda image: torch.tensor(image.size))
    assert data[0][1].tolist() == [6, 4] and data[1] == (1, None)


def test_flickr_order_is_deterministic_and_stored(shared, tmp_path):
    captions = shared / "data" / "flickr8k" / "Flickr8k.token.txt"
    store = tmp_path / "flickr_order.json"
    rejects = Rejects()
    items, n_seen = order.load(captions, tmp_path, rejects, "flickr_order", 0, store, max_images=3)
    assert n_seen == 40460 and len(items) == 15 and not rejects.total
    first = items[0]
    assert first.positive == "a child in a pink dress is climbing up a set of stairs in an entry way"
    assert len(first.negatives) == 4 and len(set(first.negatives)) == 4
    for item in items:
        assert all(sorted(n.split()) == sorted(item.positive.split()) for n in item.negatives)
    stored = json.loads(store.read_text())
    assert stored["format"] == order.FORMAT and stored["seed"] == 0 and len(stored["items"]) == 15
    again, _ = order.load(store, tmp_path, Rejects(), "flickr_order", 99, tmp_path / "unused.json")
    assert again == items and not (tmp_path / "unused.json").exists()
    other, _ = order.load(
        captions, tmp_path, Rejects(), "flickr_order", 1, tmp_path / "s1.json", max_images=3
    )
    assert [i.negatives for i in other] != [i.negatives for i in items]


def test_noun_and_adjective_shuffle_keeps_other_words_in_place():
    tagger = order.Tagger()
    tokens = ["a", "black", "dog", "and", "a", "white", "cat", "with", "brown", "spots"]
    assert tagger.tags(tokens) == ["x", "a", "n", "x", "x", "a", "n", "x", "a", "n"]
    shuffled = order.shuffle_nouns_and_adj(tokens, tagger.tags(tokens), np.random.default_rng(0))
    assert [shuffled[i] for i in (0, 3, 4, 7)] == ["a", "and", "a", "with"]
    assert sorted(shuffled[i] for i in (2, 6, 9)) == ["cat", "dog", "spots"]
    assert order.trigrams(list("abcdefg")) == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_karpathy_json_captions_and_missing_fields(tmp_path):
    path = tmp_path / "coco_karpathy_test.json"
    path.write_text(json.dumps([{"image": "val2014/1.jpg", "caption": ["A red bus.", "A bus on a road!"]},
                                {"caption": "no image"}]))  # fmt: skip
    rejects = Rejects()
    pairs, n_seen = order.read_captions(path, rejects)
    assert pairs == [("val2014/1.jpg", "A red bus."), ("val2014/1.jpg", "A bus on a road!")]
    assert n_seen == 2 and rejects.as_dict() == {"no_image": 1}
    assert order.pre_caption("A bus (red) on a road!") == "a bus red on a road"


def png(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_sugarcrepe_records_with_a_shard_read_their_images_from_it(tmp_path, caplog):
    """The world's compositional sets keep their PNGs in shards: ``filename`` is a member of the
    record's ``shard``. A shard without its index, a truncated shard and a record without an image or
    caption are each counted rejects (one log line per shard naming it and its first image), never a
    crash; the other items read their image's bytes."""
    records = {}
    with ShardWriter(tmp_path, shard_size=3) as writer:
        for i in range(9):
            name = f"swap_att-{i:05d}.png"
            records[str(i)] = {"filename": name, "shard": writer.add(name, png((20 * i, 0, 0))),
                               "caption": f"caption {i}", "negative_caption": f"negative {i}"}  # fmt: skip
    records["9"] = {"filename": "", "shard": "shards/000000.tar", "caption": "c", "negative_caption": "n"}
    records["10"] = {"filename": "swap_att-00000.png", "shard": "shards/000000.tar", "negative_caption": "n"}
    (tmp_path / "swap_att.json").write_text(json.dumps(records))
    (tmp_path / "shards/000001.json").unlink()  # images 3-5: a shard never finished
    tar = tmp_path / "shards/000002.tar"
    tar.write_bytes(tar.read_bytes()[:1200])  # images 6-8: cut inside the second (7)
    rejects = Rejects()
    items, n_seen = sugarcrepe.load(tmp_path / "swap_att.json", tmp_path, rejects)
    assert n_seen == 11 and [i.id for i in items] == [f"swap_att/{i}" for i in (0, 1, 2, 6)]
    assert items[1].image.data == png((20, 0, 0)) and items[3].image.data == png((120, 0, 0))
    assert items[1].image.path == f"{tmp_path}/shards/000000.tar/swap_att-00001.png"
    assert rejects.as_dict() == {"no_caption": 1, "no_filename": 1, "shard truncated": 2,
                                 "shard without index (unfinished)": 3}  # fmt: skip
    assert "shards/000001.tar: shard without index (unfinished) (3 images, first swap_att-00003.png)" in (
        caplog.text
    )
    assert "shards/000002.tar: shard truncated (2 images, first swap_att-00007.png)" in caplog.text
