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
