"""outputs and storage on local paths: staged, owned outputs and atomic writes."""

from __future__ import annotations

import os
import stat

import pytest

from compclip.errors import UserError
from compclip.outputs import claim_work, local_out, release_work
from compclip.storage import MARKER, atomic_write_bytes, parse_marker


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
    with local_out(str(final)) as stage:
        (stage / "stale.txt").write_text("old")
    with pytest.raises(RuntimeError), local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
        raise RuntimeError("stage failed")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "stale.txt"]  # a failure keeps the old output
    with local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
        (stage / "sub").mkdir()
        (stage / "sub" / "b.bin").write_bytes(b"12345")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "a.txt", "sub"]
    marker = parse_marker((final / MARKER).read_bytes(), "test")
    assert marker["files"] == {"a.txt": 3, "sub/b.bin": 5}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the old output is gone, no staging left


@pytest.mark.parametrize("setup", ["user_folder", "file", "cwd"])
def test_local_out_never_replaces_what_compclip_did_not_write(tmp_path, setup, monkeypatch):
    place = tmp_path / "place"
    if setup == "file":
        place.write_text("mine")
    else:
        place.mkdir()
        (place / "src").mkdir()
        (place / "src" / "code.py").write_text("keep me")
    if setup == "cwd":
        monkeypatch.chdir(place)
    target = "." if setup == "cwd" else str(place)
    with pytest.raises(UserError, match=r"did not write|not a folder"), local_out(target) as stage:
        (stage / "a.txt").write_text("x")
    if setup == "file":
        assert place.read_text() == "mine"
    else:
        assert (place / "src" / "code.py").read_text() == "keep me"
        assert sorted(p.name for p in place.iterdir()) == ["src"]


def test_an_empty_folder_may_be_an_output(tmp_path):
    (tmp_path / "empty").mkdir()
    with local_out(str(tmp_path / "empty")) as stage:
        (stage / "a.txt").write_text("x")
    assert (tmp_path / "empty" / "a.txt").read_text() == "x"


def test_replacing_an_output_keeps_files_its_marker_does_not_list(tmp_path):
    final = tmp_path / "out"
    with local_out(str(final)) as stage:
        (stage / "a.txt").write_text("old")
    (final / "notes.txt").write_text("the user's")
    with local_out(str(final)) as stage:
        (stage / "a.txt").write_text("new")
    assert (final / "a.txt").read_text() == "new"
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".out.old-")]
    assert [sorted(q.name for q in k.iterdir()) for k in kept] == [["notes.txt"]]


def test_work_folders_are_removed_only_when_compclip_made_them(tmp_path):
    mine = tmp_path / "work"
    claim_work(str(mine), "test")
    (mine / "state.json").write_text("{}")
    claim_work(str(mine), "test")  # a resumed run reuses it
    release_work(str(mine))
    assert not mine.exists()

    users = tmp_path / "users"
    users.mkdir()
    (users / "thesis.tex").write_text("keep")
    with pytest.raises(UserError, match="did not write"):
        claim_work(str(users), "test")
    release_work(str(users))
    assert (users / "thesis.tex").read_text() == "keep"


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
    assert stat.S_IMODE((tmp_path / "o" / MARKER).stat().st_mode) == 0o644


@pytest.mark.parametrize("name", ["b1", "Bucket", "-abc", "a..b", "x" * 64])
def test_local_s3_refuses_bad_bucket_names_before_starting(name, tmp_path):
    from compclip import s3local
    from compclip.errors import UserError

    with pytest.raises(UserError, match="invalid bucket name"):
        s3local.start(tmp_path, bucket=name, timeout=1)
    assert not (tmp_path / "data").exists()
