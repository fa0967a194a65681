"""storage: the output staging helper and atomic writes, on local paths."""

from __future__ import annotations

import os
import stat

import pytest

from compclip.storage import atomic_write_bytes, local_out


def test_local_out_publishes_only_on_success(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError), local_out(str(final)) as stage:
        (stage / "part.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind

    with local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
    assert (final / "a.txt").read_text() == "new"


def test_local_out_replaces_an_old_output_whole(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "stale.txt").write_text("old")
    with pytest.raises(RuntimeError), local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
        raise RuntimeError("stage failed")
    assert sorted(p.name for p in final.iterdir()) == ["stale.txt"]  # a failure keeps the old output
    with local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"]


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "r.html", b"<html/>")
        with local_out(str(tmp_path / "o")) as stage:
            atomic_write_bytes(stage / "m.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "o").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "o" / "m.json").stat().st_mode) == 0o644


@pytest.mark.parametrize("name", ["b1", "Bucket", "-abc", "a..b", "x" * 64])
def test_local_s3_refuses_bad_bucket_names_before_starting(name, tmp_path):
    from compclip import s3local
    from compclip.errors import UserError

    with pytest.raises(UserError, match="invalid bucket name"):
        s3local.start(tmp_path, bucket=name, timeout=1)
    assert not (tmp_path / "data").exists()
