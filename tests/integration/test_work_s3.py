"""Work folders on s3:// (SeaweedFS on loopback): a stage killed on one pod (chunks of GenPairs,
paste or VQA; the negatives' log; a PMI scan's files) resumes on another (a fresh local folder) from
what the first uploaded, never from a half-finished unit of work, and ends with nothing left under
the prefix."""

import fsspec
import pytest

from compclip.chunks import Work, run_chunks
from compclip.errors import UserError
from compclip.negatives import RuleGenerator, Rules, generate
from compclip.outputs import WORK_MARKER
from compclip.pmi import scan
from compclip.pmi.shards import CountConfig, scan_part
from compclip.rejects import Rejects
from compclip.storage import some_keys
from unit.test_negatives_run import CAPTIONS, Counting, Killed, dataset, unfiltered

pytestmark = pytest.mark.integration


def keys(fs, prefix: str) -> list[str]:
    """The object keys under ``prefix``, relative to it."""
    fs.invalidate_cache()
    path = prefix.removeprefix("s3://")
    return sorted(k[len(path) + 1 :] for k in some_keys(path, limit=100))


def paint(work: Work, made: list[int]):
    """A chunk's 'images': one file per item, then its rows."""

    def process(items: range) -> tuple[list[dict], Rejects]:
        for i in items:
            (work.images / f"{i}.png").write_bytes(b"png %d" % i)
            made.append(i)
        return [{"item": i} for i in items], Rejects()

    return process


def test_chunks_resume_from_s3_on_a_fresh_node(s3_server):
    fs = fsspec.filesystem("s3")
    uri = f"s3://{s3_server.bucket}/work-test/chunks/paste-0-of-1"
    chunks = [(k, range(2 * k, 2 * k + 2)) for k in range(3)]
    first, made = Work(uri, {"run": 1}), []

    def killed_after_chunk_0(index):
        if index == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_chunks(first, chunks, paint(first, made), killed_after_chunk_0)
    # the pod died while it uploaded chunk 1: an image, no record
    fs.pipe(f"{uri}/images/2.png", b"half")
    assert keys(fs, uri) == [WORK_MARKER, "chunks/000000.json", "images/0.png", "images/1.png",
                             "images/2.png", "plan.json"]  # fmt: skip
    again, made = Work(uri, {"run": 1}), []  # another node: a new local folder, filled from S3
    assert again.folder != first.folder
    rows, _, resumed = run_chunks(again, chunks, paint(again, made))
    assert resumed == 1 and made == [2, 3, 4, 5] and rows == [{"item": i} for i in range(6)]
    assert (again.images / "0.png").read_bytes() == b"png 0" and (
        again.images / "2.png"
    ).read_bytes() == b"png 2"
    with pytest.raises(UserError, match="another run"):
        Work(uri, {"run": 2})
    again.remove()
    assert keys(fs, uri) == []


def test_negatives_resume_from_an_s3_work_dir(s3_server, tmp_path):
    rules = RuleGenerator()
    data, config = dataset(tmp_path / "data", CAPTIONS), unfiltered(chunk=1)
    work = f"s3://{s3_server.bucket}/work-test/negatives"
    with pytest.raises(KeyboardInterrupt):
        generate(str(data), str(tmp_path / "out"), config, Killed(Rules(rules, 0), "img2"), work_dir=work)
    fs = fsspec.filesystem("s3")
    assert keys(fs, work) == [WORK_MARKER, "progress.json", "progress.jsonl"]
    counting = Counting(Rules(rules, 0))
    metrics = generate(str(data), str(tmp_path / "out"), config, counting, work_dir=work)
    assert set(counting.asked) == {"img2", "img3"} and metrics["resumed"] == 2
    assert keys(fs, work) == []


def test_a_pmi_scan_resumes_from_s3_without_rescanning_finished_files(s3_server, tmp_path, monkeypatch):
    things = ["dog", "ball", "beach", "child", "frisbee", "snow"]
    for i in range(3):
        lines = [f"{i}-{j}\ta {things[(i + j) % 6]} and a {things[(i * 2 + j + 1) % 6]}" for j in range(40)]
        (tmp_path / f"part-{i}.tsv").write_text("\n".join(lines) + "\n")
    corpus, config = [str(tmp_path / "*.tsv")], CountConfig(workers=1)
    work = f"s3://{s3_server.bucket}/work-test/pmi-scan"
    scanned, scan_file = [], scan.scan_file

    def killed_at_the_third_file(uri, *args, **kwargs):
        if len(scanned) == 2:
            raise KeyboardInterrupt
        scanned.append(uri)
        return scan_file(uri, *args, **kwargs)

    monkeypatch.setattr(scan, "scan_file", killed_at_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        scan_part(corpus, "0/1", tmp_path / "shard", config, work)
    monkeypatch.setattr(
        scan, "scan_file", lambda uri, *a, **k: scanned.append(uri) or scan_file(uri, *a, **k)
    )
    scan_part(corpus, "0/1", tmp_path / "shard", config, work)  # a fresh local folder, filled from S3
    assert len(scanned) == 3 == len(set(scanned))  # every file scanned once over both attempts
    assert keys(fsspec.filesystem("s3"), work) == []
    scan_part(corpus, "0/1", tmp_path / "one", config)
    for name in ("concepts.parquet", "shard.json"):
        assert (tmp_path / "shard" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
