"""Faults and bad input: a failed shard, a retried map task, wrong S3 credentials or endpoint."""

import io
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs
from kfp import dsl, local
from kfp.dsl import Dataset

from compclip.cli import main
from compclip.components.world.component import world_corpus
from compclip.pipelines.compclip_pipeline import pmi_count
from compclip.pmi import scan

pytestmark = pytest.mark.integration

PMI = {"min_count": 2, "workers": 1, "max_reject_share": 0.2}


def _captions(flickr_captions, n_files: int, per_file: int) -> list[pa.Table]:
    lines = flickr_captions.read_text().splitlines()[: n_files * per_file]
    rows = [line.split("\t", 1) for line in lines]
    return [
        pa.table({"id": [r[0] for r in part], "caption": [r[1] for r in part]})
        for part in (rows[i * per_file : (i + 1) * per_file] for i in range(n_files))
    ]


def _put(uri: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    fsspec.filesystem("s3").pipe(uri, buffer.getvalue())


def _tables_equal(a, b) -> None:
    for name in ("concepts.parquet", "pairs.parquet"):
        assert pq.read_table(a / name).equals(pq.read_table(b / name)), name


_pmi = pmi_count("s3")


@dsl.pipeline(name="pmi-only")
def _count(corpus: str, shards: int, config: dict) -> Dataset:
    world = world_corpus(config={"n": 8}, section="world")
    counted = _pmi(corpus=corpus, world=world.outputs["corpus"], shards=shards, config=config, work_root="")
    return counted.output


def test_the_pipeline_counts_shards_exactly_and_a_bad_shard_stops_the_merge(
    s3_server, flickr_captions, tmp_path
):
    prefix = f"s3://{s3_server.bucket}/faults/corpus"
    for i, table in enumerate(_captions(flickr_captions, 2, 200)):
        _put(f"{prefix}/part-{i}.parquet", table)
    assert (
        main(["pmi", "count", f"{prefix}/*.parquet", "--out", str(tmp_path / "one"), "--min-count", "2"]) == 0
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    table = _count(corpus=f"{prefix}/*.parquet", shards=2, config=PMI).output
    _tables_equal(Path(table.path), tmp_path / "one")

    bad = pa.table({"id": [str(i) for i in range(50)], "caption": [""] * 50})  # every caption empty
    _put(f"{prefix}/part-1.parquet", bad)
    before = set((tmp_path / "kfp").iterdir())
    with pytest.raises(RuntimeError, match="pmi-scan"):
        _count(corpus=f"{prefix}/*.parquet", shards=2, config=PMI)
    (run,) = set((tmp_path / "kfp").iterdir()) - before
    assert not list(run.rglob("pmi-merge-vocab"))  # the merge never ran on the good shard alone


def test_a_failed_shard_names_itself(s3_server, flickr_captions, tmp_path, capsys):
    prefix = f"s3://{s3_server.bucket}/faults/named"
    good, _ = _captions(flickr_captions, 2, 100)
    _put(f"{prefix}/a.parquet", good)
    _put(f"{prefix}/b.parquet", pa.table({"id": ["1", "2"], "caption": ["", " "]}))
    code = main(
        ["pmi", "count", "--shard", f"{prefix}/*.parquet", "--part", "1/2", "--out", str(tmp_path / "s1")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "shard 1/2" in err and "b.parquet" in err and err.count("\n") == 1


def test_a_killed_and_retried_scan_counts_every_caption_once(flickr_captions, tmp_path, monkeypatch):
    files = []
    for i, table in enumerate(_captions(flickr_captions, 3, 150)):
        files.append(tmp_path / f"part-{i}.parquet")
        pq.write_table(table, files[-1])
    inputs = [str(f) for f in files]
    assert main(["pmi", "count", *inputs, "--out", str(tmp_path / "one"), "--min-count", "2"]) == 0

    saved = scan.save_unit
    calls = []

    def killed_after_one(unit, folder):
        if calls:
            raise KeyboardInterrupt  # the pod dies after the first file of its shard
        calls.append(unit.uri)
        saved(unit, folder)

    monkeypatch.setattr(scan, "save_unit", killed_after_one)
    shard = tmp_path / "work" / "s0"
    assert main(["pmi", "count", "--shard", *inputs, "--part", "0/1", "--out", str(shard)]) == 130
    monkeypatch.setattr(scan, "save_unit", saved)
    for attempt in range(2):  # the retry, then a second retry of a finished shard
        assert main(["pmi", "count", "--shard", *inputs, "--part", "0/1", "--out", str(shard)]) == 0, attempt
    vocab, table = tmp_path / "work" / "vocab", tmp_path / "work" / "table"
    assert main(["pmi", "merge", str(shard), "--out", str(vocab), "--min-count", "2"]) == 0
    assert main(["pmi", "count", "--shard", "--out", str(shard), "--vocab", str(vocab)]) == 0
    assert (
        main(["pmi", "merge", str(shard), "--vocab", str(vocab), "--out", str(table), "--min-count", "2"])
        == 0
    )
    _tables_equal(table, tmp_path / "one")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AWS_SECRET_ACCESS_KEY": "wrong"}, "access denied"),
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no credentials"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot connect"),
    ],
)
def test_s3_credential_and_endpoint_faults_are_one_line_naming_endpoint_and_bucket(
    s3_server, monkeypatch, tmp_path, capsys, env, message
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws credentials to fall back on
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        code = main(
            ["pmi", "count", f"s3://{s3_server.bucket}/faults/*.parquet", "--out", str(tmp_path / "t")]
        )
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    err = capsys.readouterr().err
    endpoint = env.get("AWS_ENDPOINT_URL") or s3_server.endpoint
    assert code == 2 and err.count("\n") == 1, err
    assert f"S3 at {endpoint}, s3://{s3_server.bucket}/faults/" in err and message in err
