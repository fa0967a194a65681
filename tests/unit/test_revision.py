"""The git commit lineage records: one answer for the pipeline's parameter and a registry version."""

import subprocess

from compclip.revision import ENV, git_commit


def _git(folder, *args):
    done = subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True)
    return done.stdout


def test_head_of_the_checkout_marked_dirty_when_tracked_files_changed(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert git_commit() is None  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    (tmp_path / "untracked.txt").write_text("ignored")
    assert git_commit() == head
    (tmp_path / "a.txt").write_text("two")
    assert git_commit() == f"{head}-dirty"


def test_the_environment_names_the_commit_where_there_is_no_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV, "abc123")
    assert git_commit() == "abc123"
