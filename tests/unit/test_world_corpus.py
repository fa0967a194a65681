"""The corpus folder (captions.parquet, images, dataset.json) and the PMI spread it produces."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.pmi import CountConfig, PMITable, count_corpus
from compclip.world import CorpusConfig, load_world, write_corpus

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
    for row in rows[:20]:
        image = Image.open(folder / row["image"])
        assert image.size == (64, 64) and image.mode == "RGB"
        assert row["object"] in row["caption"].lower()
        assert (row["accessory"] is None) == (row["scene"] != "accessory")
        assert (row["relation"] is None) == (row["scene"] == "single")


def test_same_seed_writes_identical_files(corpus, tmp_path):
    write_corpus(str(tmp_path), CorpusConfig(n=30, seed=5, overrides=SMALL))
    first = pq.read_table(corpus / "corpus" / "captions.parquet").slice(0, 30)
    again = pq.read_table(tmp_path / "captions.parquet")
    assert first.equals(again)
    for path in again.column("image").to_pylist()[:10]:
        assert (tmp_path / path).read_bytes() == (corpus / "corpus" / path).read_bytes()


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
