"""The `compclip pmi` command end to end: S3 in and out, sharded runs, a killed run resumed."""

import json
import os
import subprocess
import sys
import time

import fsspec
import pytest

from compclip.storage import read_bytes

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "compclip.cli"]


def run(*args, check=True, **kwargs):
    result = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(result.stderr)
    return result


@pytest.fixture(scope="module")
def parts(flickr_captions, tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    lines = flickr_captions.read_text(encoding="utf-8").splitlines()
    for i in range(6):
        (folder / f"part-{i}.tsv").write_text("\n".join(lines[i::6]) + "\n")
    return folder


def test_s3_in_and_out_and_queries(parts, s3_server, tmp_path):
    fs = fsspec.filesystem("s3")
    fs.put(str(parts) + "/", f"{s3_server.bucket}/corpus/", recursive=True)
    table = f"s3://{s3_server.bucket}/pmi"
    run("pmi", "count", f"s3://{s3_server.bucket}/corpus/*.tsv", "--out", table, "--min-count", 3)
    run("pmi", "count", parts, "--out", tmp_path / "local", "--min-count", 3)
    for name in ("concepts.parquet", "pairs.parquet", "header.json"):
        assert read_bytes(f"{table}/{name}") == (tmp_path / "local" / name).read_bytes(), name
    query = json.loads(run("pmi", "query", "dogs", "frisbee", "--table", table, "--json").stdout)
    assert query["c1"] == "dog" and query["count_pair"] > 0 and query["n_captions"] == 40460
    top = json.loads(run("pmi", "top", "dog", "--lowest", "-k", "3", "--table", table, "--json").stdout)
    assert len(top) == 3 and top[0]["pmi"] <= top[1]["pmi"] <= top[2]["pmi"]
    score = json.loads(run("pmi", "score", "a dog catching a frisbee", "--table", table, "--json").stdout)
    assert {(p["c1"], p["c2"]) for p in score["pairs"]} == {
        ("catching", "dog"),
        ("catching", "frisbee"),
        ("dog", "frisbee"),
    }


def test_sharded_cli_equals_one_run(parts, tmp_path):
    run("pmi", "count", parts, "--out", tmp_path / "one", "--min-count", 3)
    shards = []
    for i, part in enumerate(sorted(parts.iterdir())):
        run("pmi", "count", "--shard", part, "--out", tmp_path / f"w{i}")
        shards.append(tmp_path / f"w{i}")
    run("pmi", "merge", *shards, "--out", tmp_path / "vocab", "--min-count", 3)
    for i, part in enumerate(sorted(parts.iterdir())):
        run("pmi", "count", "--shard", part, "--out", tmp_path / f"w{i}", "--vocab", tmp_path / "vocab")
    run("pmi", "merge", *shards, "--vocab", tmp_path / "vocab", "--out", tmp_path / "merged")
    for name in ("concepts.parquet", "pairs.parquet", "header.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes()


def test_sharded_run_on_s3_equals_one_local_run(parts, s3_server, tmp_path):
    root = f"s3://{s3_server.bucket}/sharded"
    run("pmi", "count", parts, "--out", tmp_path / "one", "--min-count", 3)
    files = sorted(parts.iterdir())
    shards = [f"{root}/w{i}" for i in range(len(files))]
    for part, shard in zip(files, shards, strict=True):
        run("pmi", "count", "--shard", part, "--out", shard)
    run("pmi", "merge", *shards, "--out", f"{root}/vocab", "--min-count", 3)
    for part, shard in zip(files, shards, strict=True):
        run("pmi", "count", "--shard", part, "--out", shard, "--vocab", f"{root}/vocab")
    run("pmi", "merge", *shards, "--vocab", f"{root}/vocab", "--out", f"{root}/table")
    for name in ("concepts.parquet", "pairs.parquet", "header.json"):
        assert read_bytes(f"{root}/table/{name}") == (tmp_path / "one" / name).read_bytes(), name


def test_a_failed_count_leaves_nothing_at_its_s3_output(s3_server, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(["", " ", "ok caption", "   "]) + "\n")
    out = f"s3://{s3_server.bucket}/failed-table"
    result = run("pmi", "count", bad, "--out", out, "--format", "text", check=False)
    assert result.returncode == 2 and "3 of 4 records rejected" in result.stderr
    assert not fsspec.filesystem("s3").exists(out)


def test_killed_run_resumes_without_double_counting(parts, tmp_path):
    run("pmi", "count", parts, "--out", tmp_path / "clean", "--min-count", 3)
    out = tmp_path / "killed"
    work = tmp_path / ".killed.pmi-work"
    process = subprocess.Popen(
        [*CLI, "pmi", "count", str(parts), "--out", str(out), "--min-count", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list((work / "units").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait()
    finished = len(list((work / "units").glob("*.json")))
    assert not out.exists(), "a killed count leaves nothing at its output"
    assert 1 <= finished < 6, "the run should have been killed between files"
    resumed = run("pmi", "count", parts, "--out", out, "--min-count", 3)
    assert resumed.stderr.count("already scanned") == finished
    for name in ("concepts.parquet", "pairs.parquet", "header.json"):
        assert (tmp_path / "clean" / name).read_bytes() == (out / name).read_bytes()
    assert not work.exists()


def test_user_errors_are_one_line(tmp_path):
    missing = run("pmi", "count", tmp_path / "nothing.txt", "--out", tmp_path / "t", check=False)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"compclip pmi: error: no such file: {tmp_path / 'nothing.txt'}"
    ]
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(["", " ", "ok caption", "   "]) + "\n")
    result = run("pmi", "count", bad, "--out", tmp_path / "t", "--format", "text", check=False)
    assert result.returncode == 2 and "3 of 4 records rejected" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_bad_shard_does_not_affect_others(parts, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 broken")
    failed = run("pmi", "count", "--shard", bad, "--out", tmp_path / "b", check=False)
    assert failed.returncode == 2 and "bad.parquet" in failed.stderr
    run("pmi", "count", "--shard", sorted(parts.iterdir())[0], "--out", tmp_path / "good")
    assert json.loads((tmp_path / "good" / "shard.json").read_text())["n_captions"] > 0
    assert os.path.exists(tmp_path / "good" / "concepts.parquet")


def test_an_s3_corpus_file_is_read_once(parts, s3_server, tmp_path, monkeypatch):
    """Hashing (for resumption and the corpus fingerprint) and scanning share one download."""
    from compclip import captions, storage
    from compclip.pmi import CountConfig, count_corpus

    fs = fsspec.filesystem("s3")
    files = sorted(parts.iterdir())[:2]
    for part in files:
        fs.put_file(str(part), f"{s3_server.bucket}/read-once/{part.name}")
    opened = []
    real_open = storage.open_uri

    def counting_open(uri, mode="rb"):
        opened.append(uri)
        return real_open(uri, mode)

    monkeypatch.setattr(storage, "open_uri", counting_open)
    monkeypatch.setattr(captions, "open_uri", counting_open)
    count_corpus([f"s3://{s3_server.bucket}/read-once/"], tmp_path / "t", CountConfig(min_count=3))
    remote = sorted(u for u in opened if u.startswith("s3://"))
    assert remote == [f"s3://{s3_server.bucket}/read-once/{p.name}" for p in files]
