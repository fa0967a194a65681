"""The corpus folder (captions.parquet, image shards, dataset.json) and the PMI spread it produces."""

from __future__ import annotations

import dataclasses
import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.config import load_section
from compclip.dataset import image_key, read_images
from compclip.errors import UserError
from compclip.pmi import CountConfig, PMITable, count_corpus
from compclip.world import CorpusConfig, load_world, write_corpus
from compclip.world.corpus import MIXES

# A small corpus names every accessory only when captions always name it and the skew is mild.
SMALL = {"mention": {"accessory": 1.0}, "skew": {"zipf_exponent": 1.3}}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    write_corpus(str(out / "corpus"), CorpusConfig(n=1500, seed=5, overrides=SMALL))
    count_corpus([str(out / "corpus" / "captions.parquet")], out / "pmi", CountConfig(min_count=1))
    return out


def test_folder_follows_the_dataset_contract(corpus):
    folder = corpus / "corpus"
    table = pq.read_table(folder / "captions.parquet")
    for column in ("id", "caption", "image", "object", "color", "size", "accessory", "relation"):
        assert column in table.column_names
    rows = table.to_pylist()
    assert len(rows) == 1500 and len({r["id"] for r in rows}) == 1500
    header = json.loads((folder / "dataset.json").read_text())
    assert header["kind"] == "image-captions" and header["n"] == 1500 and header["seed"] == 5
    assert header["world"] == json.loads(json.dumps(load_world(overrides=SMALL).as_dict()))
    assert {r["shard"] for r in rows} == {"shards/000000.tar"}  # the default shard size holds 1500
    images = dict(read_images(str(folder), rows[:20], failed := {}))
    assert not failed and len(images) == 20
    for row in rows[:20]:
        image = Image.open(io.BytesIO(images[image_key(row)]))
        assert image.size == (64, 64) and image.mode == "RGB"
        assert row["object"] in row["caption"].lower()
        assert (row["accessory"] is None) == (row["scene"] != "accessory")
        assert (row["relation"] is None) == (row["scene"] == "single")


def test_same_seed_writes_identical_files(corpus, tmp_path):
    write_corpus(str(tmp_path), CorpusConfig(n=30, seed=5, overrides=SMALL))
    first = pq.read_table(corpus / "corpus" / "captions.parquet").slice(0, 30)
    again = pq.read_table(tmp_path / "captions.parquet")
    assert first.equals(again)
    rows, failed = again.to_pylist(), {}
    assert dict(read_images(str(tmp_path), rows, failed)) == dict(
        read_images(str(corpus / "corpus"), rows, failed)
    )
    assert not failed


def test_shard_size_splits_the_images_and_a_shard_is_the_same_bytes_again(tmp_path):
    config = CorpusConfig(n=25, seed=5, overrides=SMALL, shard_size=10)
    write_corpus(str(tmp_path / "a"), config)
    write_corpus(str(tmp_path / "b"), config)
    rows = pq.read_table(tmp_path / "a" / "captions.parquet").to_pylist()
    assert [r["shard"] for r in rows] == ["shards/000000.tar"] * 10 + ["shards/000001.tar"] * 10 + [
        "shards/000002.tar"
    ] * 5
    for name in ("000000.tar", "000000.json", "000002.tar", "000002.json"):
        assert (tmp_path / "a" / "shards" / name).read_bytes() == (
            tmp_path / "b" / "shards" / name
        ).read_bytes()
    assert not (tmp_path / "a" / "images").exists()


def test_pmi_of_objects_and_accessories_spans_a_wide_range(corpus):
    table, world = PMITable.load(corpus / "pmi"), load_world(overrides=SMALL)
    values = np.array([table.pmi(o, a) for o in world.objects for a in world.accessories])
    assert not np.isnan(values).any()
    never = np.isneginf(values)
    assert never.sum() >= round(world.skew.never_share * len(world.accessories)) * len(world.objects)
    finite = values[~never]
    assert finite.max() - finite.min() > 3.0
    assert math.isfinite(table.pmi("cube", "red"))  # attributes co-occur with every object


def test_a_non_positive_size_is_one_clear_error(tmp_path, capsys):
    from compclip.cli import main

    assert main(["world", "corpus", "--n", "-5", "--out", str(tmp_path / "w")]) == 2
    assert "n: must be >= 1, got -5" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_a_named_mix_sets_the_scene_shares_and_keeps_the_other_overrides():
    preset = load_world(overrides=SMALL)
    assert CorpusConfig(overrides=SMALL).world() == preset
    pairs = CorpusConfig(mix="pairs", overrides=SMALL).world()
    assert dataclasses.asdict(pairs.mix) == MIXES["pairs"] != dataclasses.asdict(preset.mix)
    assert pairs.skew == preset.skew and pairs.mention == preset.mention  # the same co-occurrence law


def test_a_named_mix_and_a_mix_override_are_refused_together():
    with pytest.raises(UserError, match="both set the scene mix"):
        CorpusConfig(mix="pairs", overrides={"mix": {"single": 1.0, "accessory": 0.0, "pair": 0.0}})
    with pytest.raises(UserError, match="mix"):
        CorpusConfig(mix="uniform")


def test_the_pairs_mix_writes_mostly_two_object_scenes_and_names_its_mix(tmp_path, capsys):
    from compclip.cli import main

    for mix in ("preset", "pairs"):
        args = ["world", "corpus", "--n", "400", "--seed", "3", "--mix", mix, "--out", str(tmp_path / mix)]
        assert main(args) == 0
    shares = {}
    for mix in ("preset", "pairs"):
        scenes = pq.read_table(tmp_path / mix / "captions.parquet").column("scene").to_pylist()
        shares[mix] = {kind: scenes.count(kind) / len(scenes) for kind in ("single", "accessory", "pair")}
        assert json.loads((tmp_path / mix / "dataset.json").read_text())["mix"] == mix
    assert shares["pairs"]["pair"] > 0.5 and shares["preset"]["pair"] < 0.25
    assert shares["preset"]["accessory"] > 0.55 and shares["pairs"]["accessory"] < 0.4


def test_params_finetune_section_is_the_pretraining_world_but_for_its_mix():
    root = Path(__file__).resolve().parents[2]
    world = load_section(CorpusConfig, root / "params.yaml", "world")
    finetune = load_section(CorpusConfig, root / "params.yaml", "finetune")
    assert (finetune.preset, finetune.overrides) == (world.preset, world.overrides)
    assert finetune.seed != world.seed  # a second sample, not the pretraining images again
