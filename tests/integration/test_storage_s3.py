"""Outputs on a real S3 server: owned places, published whole, never half-visible (kill -9 too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import fsspec
import pytest

from compclip.errors import UserError
from compclip.outputs import add_files, claim_work, local_out
from compclip.storage import (
    GENERATIONS,
    MARKER,
    exists,
    expand,
    forget_pointer,
    is_dir,
    local_dir,
    read_bytes,
)
from compclip.train.checkpoints import open_checkpoints

pytestmark = pytest.mark.integration

# A stage in a child process: N files of 4 KiB, each holding the run's tag, published to OUT.
WRITER = """
import sys
from compclip.outputs import local_out
out, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with local_out(out) as stage:
    (stage / "images").mkdir()
    for i in range(n):
        (stage / "images" / f"{i:05d}.bin").write_bytes(tag.encode() * (4096 // len(tag)))
    (stage / "captions.txt").write_text(tag)
"""


def _write(uri: str, files: dict[str, str]) -> None:
    with local_out(uri) as stage:
        for name, text in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text(text)


def _keys(uri: str) -> list[str]:
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    root = uri.removeprefix("s3://")
    return sorted(k[len(root) + 1 :] for k in fs.find(root))


def test_an_s3_output_is_published_whole_and_read_through_its_pointer(s3_server):
    uri = f"s3://{s3_server.bucket}/storage-test/out"
    with pytest.raises(RuntimeError), local_out(uri) as stage:
        (stage / "a.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert _keys(uri) == []

    _write(uri, {"a.txt": "old", "sub/b.txt": "b"})
    _write(uri, {"a.txt": "new", "c.txt": "c"})
    keys = _keys(uri)
    assert MARKER in keys and all(k == MARKER or k.startswith(f"{GENERATIONS}/") for k in keys)
    assert len([k for k in keys if k != MARKER]) == 2  # the old generation's files are gone
    assert read_bytes(f"{uri}/a.txt") == b"new"
    assert exists(f"{uri}/c.txt") and not exists(f"{uri}/sub/b.txt") and is_dir(uri)
    assert expand([uri]) == [f"{uri}/a.txt", f"{uri}/c.txt"]
    assert expand([f"{uri}/*.txt"]) == [f"{uri}/a.txt", f"{uri}/c.txt"]
    with local_dir(uri) as folder:
        assert sorted(p.name for p in folder.iterdir()) == [MARKER, "a.txt", "c.txt"]
    with pytest.raises(UserError, match="no such file"):
        read_bytes(f"{uri}/sub/b.txt")


def test_files_added_to_an_output_are_listed_by_its_new_pointer(s3_server, tmp_path):
    uri = f"s3://{s3_server.bucket}/storage-test/added"
    _write(uri, {"scan.txt": "scan"})
    (tmp_path / "pairs.txt").write_text("pairs")
    add_files(tmp_path, uri, ["pairs.txt"])
    assert expand([uri]) == [f"{uri}/pairs.txt", f"{uri}/scan.txt"]
    assert read_bytes(f"{uri}/pairs.txt") == b"pairs"


@pytest.mark.parametrize("place", ["", "registry", "taken.txt"])
def test_a_bucket_root_or_a_prefix_of_someone_elses_is_never_an_output(s3_server, place):
    fs = fsspec.filesystem("s3")
    bucket = s3_server.bucket
    fs.pipe(f"{bucket}/registry/world/v1/model.safetensors", b"weights")
    fs.pipe(f"{bucket}/taken.txt", b"mine")
    before = _keys(f"s3://{bucket}")
    with pytest.raises(UserError, match=r"bucket root|did not write|not a folder"):
        _write(f"s3://{bucket}/{place}", {"a.txt": "x"})
    assert _keys(f"s3://{bucket}") == before
    fs.rm(f"{bucket}/registry", recursive=True)
    fs.rm(f"{bucket}/taken.txt")


def test_checkpoints_never_take_a_bucket_or_a_folder_they_did_not_make(s3_server):
    fs = fsspec.filesystem("s3")
    with pytest.raises(UserError, match="bucket root"), open_checkpoints(f"s3://{s3_server.bucket}"):
        pass
    fs.pipe(f"{s3_server.bucket}/notes/todo.txt", b"mine")
    with pytest.raises(UserError, match="did not write"), open_checkpoints(f"s3://{s3_server.bucket}/notes"):
        pass
    uri = f"s3://{s3_server.bucket}/storage-test/ckpt"
    with open_checkpoints(uri) as store:
        fs.pipe(f"{uri.removeprefix('s3://')}/step_2/manifest.json", b"{}")
        store.clear()
    claim_work(uri, "checkpoints")  # cleared and released: a fresh claim succeeds
    assert fs.cat(f"{s3_server.bucket}/notes/todo.txt") == b"mine"


def _generations(root: str) -> set[str]:
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    keys = fs.find(f"{root}/{GENERATIONS}") if fs.exists(f"{root}/{GENERATIONS}") else []
    return {k.split("/")[-3] for k in keys if k.endswith(".bin")}


def _kill_during_upload(uri: str, tag: str, n: int) -> None:
    """Run WRITER, kill -9 it once its generation has objects but before its pointer moves."""
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    root = uri.removeprefix("s3://")
    before = fs.cat_file(f"{root}/{MARKER}") if fs.exists(f"{root}/{MARKER}") else None
    known = _generations(root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", WRITER, uri, tag, str(n)], env=env)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not _generations(root) - known:
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    fs.invalidate_cache()
    pointer = fs.cat_file(f"{root}/{MARKER}") if fs.exists(f"{root}/{MARKER}") else None
    assert pointer == before, "the writer finished before it was killed; raise n"


def test_a_killed_upload_leaves_the_previous_output_whole_or_nothing_a_reader_accepts(s3_server):
    uri = f"s3://{s3_server.bucket}/storage-test/killed"
    _kill_during_upload(uri, "seed0", 1000)
    with pytest.raises(UserError, match="unfinished compclip output"):
        expand([uri])
    with pytest.raises(UserError, match="unfinished compclip output"), local_dir(uri):
        pass
    with pytest.raises(UserError, match="no such file"):
        read_bytes(f"{uri}/captions.txt")

    subprocess.run([sys.executable, "-c", WRITER, uri, "seed1", "50"], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    _kill_during_upload(uri, "seed2", 1000)
    forget_pointer(uri.removeprefix("s3://"))  # a reader that starts now (as a new process would)
    with local_dir(uri) as folder:
        images = sorted((folder / "images").iterdir())
        assert len(images) == 50 and (folder / "captions.txt").read_text() == "seed1"
        assert all(p.read_bytes().startswith(b"seed1") for p in images)  # no file of the killed run


def test_losing_the_s3_server_mid_upload_is_one_line_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    """The server stops after a few files of the upload: exit 2 with one line naming the s3:// URI;
    restarted on the same data, the place holds nothing a reader accepts."""
    import s3fs

    from compclip import s3local
    from compclip.cli import main

    server = s3local.start(tmp_path / "s3", bucket="lost")
    env = server.env() | {"AWS_MAX_ATTEMPTS": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    uploaded = []
    original = s3fs.S3FileSystem._put_file

    async def put_then_lose_the_server(self, lpath, rpath, *args, **kwargs):
        if len(uploaded) == 5:
            s3local.stop_pid(server.pid)
        uploaded.append(rpath)
        return await original(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", put_then_lose_the_server)
    try:
        code = main(["world", "corpus", "--n", "200", "--shard-size", "20", "--out", "s3://lost/world"])
    finally:
        s3local.stop_pid(server.pid)
        s3fs.S3FileSystem.clear_instance_cache()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert "nothing was published" in errors[0] and "s3://lost/world" in errors[0]
    assert len(uploaded) > 5

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", original)
    server = s3local.start(tmp_path / "s3", bucket="lost")
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    forget_pointer("lost/world")
    try:
        with pytest.raises(UserError, match=r"no such|unfinished"), local_dir("s3://lost/world"):
            pass
    finally:
        s3local.stop_pid(server.pid)
        s3fs.S3FileSystem.clear_instance_cache()


def test_an_output_folder_copied_to_s3_as_it_is_reads_through_its_marker(s3_server, tmp_path):
    """A Kubeflow artifact (the launcher uploads the task's folder, marker and all) reads as the
    output it is: only the listed files; compclip may replace it, removing only those."""
    with local_out(str(tmp_path / "artifact")) as stage:
        (stage / "table.parquet").write_bytes(b"pmi")
    fs = fsspec.filesystem("s3")
    root = f"{s3_server.bucket}/storage-test/artifact"
    for name in (MARKER, "table.parquet"):
        fs.put_file(str(tmp_path / "artifact" / name), f"{root}/{name}")
    fs.pipe(f"{root}/stray.txt", b"not listed")
    uri = f"s3://{root}"
    assert expand([uri]) == [f"{uri}/table.parquet"] and read_bytes(f"{uri}/table.parquet") == b"pmi"
    with local_dir(uri) as folder:
        assert sorted(p.name for p in folder.iterdir()) == [MARKER, "table.parquet"]
    _write(uri, {"table.parquet": "new"})
    assert read_bytes(f"{uri}/table.parquet") == b"new"
    assert "stray.txt" in _keys(uri) and "table.parquet" not in _keys(uri)  # only the listed file removed
