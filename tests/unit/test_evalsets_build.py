"""The eval set folders built against a real PMI table of a small world corpus."""

from __future__ import annotations

import io
import json
import math
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.dataset import image_key, read_images
from compclip.errors import UserError
from compclip.evalsets import SUBSETS, EvalsetsConfig, build_evalsets, build_subset, write_compositional
from compclip.pmi import CountConfig, PMITable, count_corpus
from compclip.pmi.concepts import ConceptRules
from compclip.world import CorpusConfig, compose, holds, load_world, write_corpus

# A small corpus names every accessory only when captions always name it and the skew is mild.
SMALL = {"mention": {"accessory": 1.0}, "skew": {"zipf_exponent": 1.3}}
CONFIG = EvalsetsConfig(seed=3, per_stratum=20, single_per_class=5, per_subset=15, overrides=SMALL)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalsets")
    write_corpus(str(root / "corpus"), CorpusConfig(n=3000, seed=1, overrides=SMALL))
    count_corpus([str(root / "corpus" / "captions.parquet")], root / "pmi", CountConfig(min_count=1))
    metrics = build_evalsets(str(root / "pmi"), str(root / "sets"), CONFIG)
    return root, metrics


def _items(root, name):
    return pq.read_table(root / "sets" / name / "items.parquet").to_pylist()


def test_genpairs_is_balanced_over_at_least_ten_pmi_strata(built):
    root, metrics = built
    table, items = PMITable.load(root / "pmi"), _items(root, "genpairs")
    per_stratum = Counter(item["stratum"] for item in items)
    assert len([s for s in per_stratum if s > 0]) >= 10 and 0 in per_stratum
    assert set(per_stratum.values()) == {CONFIG.per_stratum}
    for item in items[:: len(items) // 40]:
        assert item["pmi"] == table.pmi(item["label"], item["accessory"])
        assert (item["stratum"] == 0) == math.isinf(item["pmi"])
    means = [np.mean([i["pmi"] for i in items if i["stratum"] == s]) for s in sorted(per_stratum) if s > 0]
    assert means == sorted(means)
    header = json.loads((root / "sets" / "genpairs" / "evalset.json").read_text())
    assert header["kind"] == "zeroshot" and header["n"] == len(items) == metrics["genpairs/n"]
    assert header["classes"] == list(load_world().objects)
    assert header["pmi_table"]["n_captions"] == 3000


def test_single_objects_have_no_accessory_and_cover_every_class(built):
    root, _ = built
    items = _items(root, "single")
    assert Counter(i["label"] for i in items) == {c: CONFIG.single_per_class for c in load_world().objects}
    assert all(i["accessory"] is None and i["pmi"] is None and i["stratum"] is None for i in items)


def test_paste_card_covers_a_tenth_of_the_image_and_leaves_the_object_visible(built):
    root, _ = built
    card = np.array(CONFIG.paste_card)
    items = _items(root, "paste")[::25]
    images = dict(read_images(str(root / "sets" / "paste"), items, failed := {}))
    assert not failed and len(images) == len(items)  # the PNGs are in the set's shards
    for item in items:
        image = np.asarray(Image.open(io.BytesIO(images[image_key(item)]))).astype(int)
        ys, xs = np.nonzero((image == card).all(axis=2))
        side_y, side_x = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert side_x == side_y
        assert abs(side_x * side_y / image.shape[0] / image.shape[1] - CONFIG.paste_area) < 0.01
        colour = np.array(load_world().colors[item["color"]])
        assert (np.abs(image - colour).max(axis=2) <= 2).sum() > 20  # the object is not covered


def test_compositional_files_follow_sugarcrepe(built):
    root, metrics = built
    folder = root / "sets" / "compositional"
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(SUBSETS)
    for subset in SUBSETS:
        records = json.loads((folder / f"{subset}.json").read_text())
        assert len(records) == CONFIG.per_subset == metrics[f"compositional/{subset}/n"]
        for record in records.values():
            assert set(record) == {"filename", "shard", "caption", "negative_caption"}
            assert record["caption"] != record["negative_caption"]
        rows = [{"image": r["filename"], "shard": r["shard"]} for r in records.values()]
        images = dict(read_images(str(folder), rows, failed := {}))
        assert not failed and len(images) == len(records)  # every PNG is in the set's shards
        assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for data in images.values())
    assert not (folder / "images").exists()
    assert len(list((folder / "shards").glob("*.tar"))) == math.ceil(len(SUBSETS) * CONFIG.per_subset / 2000)


@pytest.mark.parametrize("subset", SUBSETS)
def test_negatives_are_false_and_positives_true_for_the_scene(subset):
    world = load_world()
    for example in build_subset(world, subset, 40, seed=0):
        assert holds(world, example.positive, example.scene)
        assert not holds(world, example.negative, example.scene)
        d, n = example.positive, example.negative
        if subset.startswith("swap"):
            assert {d.first, d.second} != {n.first, n.second} and d.relation == n.relation
        if subset == "replace_rel":
            assert n.relation != d.relation and (n.first, n.second) == (d.first, d.second)
        if subset == "add_obj":
            assert d.second is None and n.second is not None and n.second.kind != d.first.kind


def test_text_changes_match_the_subset():
    world, rules = load_world(), ConceptRules()
    for example in build_subset(world, "swap_att", 20, seed=1):
        positive = compose(world, example.wording, example.positive)
        negative = compose(world, example.negative_wording, example.negative)
        assert sorted(positive.split()) == sorted(negative.split()) and positive != negative
    for example in build_subset(world, "replace_obj", 20, seed=1):
        pos = rules.concepts(compose(world, example.wording, example.positive))
        neg = rules.concepts(compose(world, example.negative_wording, example.negative))
        assert len(pos) == len(neg) and sum(a != b for a, b in zip(pos, neg, strict=True)) == 1


def test_an_empty_set_is_refused_before_anything_is_written():
    with pytest.raises(UserError, match="single_per_class: must be >= 1, got 0"):
        EvalsetsConfig(seed=3, per_stratum=20, single_per_class=0, per_subset=15, overrides=SMALL)


def test_the_compositional_set_is_the_same_bytes_every_time(tmp_path):
    for name in ("one", "two"):
        write_compositional(load_world(), tmp_path / name, 4, seed=5)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) == len(SUBSETS) + 2  # the subsets' JSONs, one shard and its index
    assert all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)
