"""storage.local_out against a real S3 server: outputs appear under their prefix only on success."""

from __future__ import annotations

import fsspec
import pytest

from compclip.storage import local_out

pytestmark = pytest.mark.integration


def test_s3_output_is_published_on_success_only(s3_server):
    fs = fsspec.filesystem("s3")
    uri = f"s3://{s3_server.bucket}/storage-test/out"
    with pytest.raises(RuntimeError), local_out(uri) as stage:
        (stage / "a.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert not fs.exists(uri)

    fs.pipe(f"{uri}/stale.txt", b"old")
    with local_out(uri) as stage:
        (stage / "a.txt").write_text("new")
        (stage / "sub").mkdir()
        (stage / "sub" / "b.txt").write_text("b")
    fs.invalidate_cache()
    names = sorted(p.split("/storage-test/out/", 1)[1] for p in fs.find(uri))
    assert names == ["a.txt", "sub/b.txt"]
    assert fs.cat(f"{uri}/a.txt") == b"new"


def test_the_local_server_is_ready_only_once_its_bucket_takes_a_write(tmp_path, monkeypatch):
    """`start` returns when a probe object can be written (and leaves none behind); a server that
    answers but cannot store fails fast with the free disk space and its log."""
    import boto3

    from compclip import s3local
    from compclip.errors import UserError

    server = s3local.start(tmp_path / "ok", bucket="probe-test")
    try:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        client = boto3.client("s3")
        assert client.list_objects_v2(Bucket="probe-test").get("KeyCount", 0) == 0
        client.put_object(Bucket="probe-test", Key="k", Body=b"v")
        assert client.get_object(Bucket="probe-test", Key="k")["Body"].read() == b"v"
    finally:
        s3local.stop_pid(server.pid)

    monkeypatch.setattr(s3local, "_bucket_writable", lambda server: False)
    with pytest.raises(UserError, match=r"did not accept a write in 2s \(\d+\.\d GiB free in .*weed\.log"):
        s3local.start(tmp_path / "stuck", bucket="probe-test", timeout=2)
