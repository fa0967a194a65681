from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kfp.dsl import Dataset

from compclip.cli import main
from compclip.components.pmi.component import pmi_merge_table, pmi_merge_vocab, pmi_pairs, pmi_plan, pmi_scan
from compclip.errors import UserError

CONFIG = {"min_count": 2.0, "workers": 1.0}


def _dataset(path) -> Dataset:
    return Dataset(name=path.name, uri=str(path))


def test_the_five_components_count_shards_as_one_run_does(tmp_path):
    """Both rounds fan out over the plan's parts: the pairs round scans its part again and hands on
    only its pair counts (it reads no scan by its URI, so any pipeline root does)."""
    things = ["dog", "ball", "beach", "child", "frisbee", "snow", "tree", "bike"]
    lines = [
        f"{i}\ta {things[i % 8]} and a {things[(i * 3 + 1) % 8]} near a {things[(i * 5 + 2) % 8]}"
        for i in range(300)
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"part-{i}.tsv").write_text("\n".join(lines[i * 100 : (i + 1) * 100]) + "\n")
    world = _dataset(tmp_path / "unused-world")
    parts = pmi_plan.python_func(corpus=str(corpus), world=world, shards=2)
    assert parts == ["0/2", "1/2"]
    scans = [_dataset(tmp_path / f"scan-{i}") for i in range(2)]
    for part, scan in zip(parts, scans, strict=True):
        pmi_scan.python_func(corpus=str(corpus), world=world, part=part, config=CONFIG, shard=scan)
    vocab = _dataset(tmp_path / "vocab")
    pmi_merge_vocab.python_func(shards=scans, config=CONFIG, vocab=vocab)
    counted = [_dataset(tmp_path / f"pairs-{i}") for i in range(2)]
    for part, shard in zip(parts, counted, strict=True):
        pmi_pairs.python_func(
            corpus=str(corpus), world=world, part=part, vocab=vocab, config=CONFIG, shard=shard
        )
        assert shard.metadata["part"] == part
        assert sorted(p.name for p in Path(shard.path).iterdir()) == [
            "_compclip.json",
            "pairs.json",
            "pairs.parquet",
        ]
    table = _dataset(tmp_path / "table")
    pmi_merge_table.python_func(shards=counted, vocab=vocab, config=CONFIG, table=table)
    assert main(["pmi", "count", str(corpus), "--out", str(tmp_path / "one"), "--min-count", "2"]) == 0
    for name in ("concepts.parquet", "pairs.parquet"):
        assert pq.read_table(tmp_path / "table" / name).equals(pq.read_table(tmp_path / "one" / name))


def test_a_failing_scan_fails_with_the_stages_own_message_naming_its_shard(tmp_path):
    (tmp_path / "bad.tsv").write_text("1\t\n2\t \n")
    with pytest.raises(UserError, match=r"shard 0/1.*bad\.tsv"):
        pmi_scan.python_func(corpus=str(tmp_path / "bad.tsv"), world=_dataset(tmp_path / "w"), part="0/1",
                             config=CONFIG, shard=_dataset(tmp_path / "s"))  # fmt: skip
