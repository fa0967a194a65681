"""`compclip lineage push`: a run's outputs to a DVC remote (a local folder here), its .dvc files
under lineage/RUN_ID, and one hint to the user rather than DVC's after every output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compclip.cli import main
from compclip.lineage import record

pytestmark = pytest.mark.integration
DVC = str(Path(sys.executable).parent / "dvc")


def test_push_uploads_each_output_and_gives_one_hint(tmp_path, capfd):
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=repo, check=True)
    subprocess.run([DVC, "remote", "add", "-d", "local", str(remote)], cwd=repo, check=True)
    outputs = {}
    for name in ("model", "report"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file.txt").write_text(f"{name}\n")
        outputs[name] = str(tmp_path / name)
    manifest = tmp_path / "lineage.json"
    manifest.write_text(json.dumps(record("run-1", "abc", {}, {}, outputs)))
    capfd.readouterr()

    assert main(["lineage", "push", str(manifest), "--repo", str(repo)]) == 0
    out, err = capfd.readouterr()
    assert "autostage" not in out + err and "To track the changes with git" not in out + err
    assert "commit lineage/run-1 with git, then anywhere: dvc pull -R lineage/run-1" in out
    assert sorted(p.name for p in (repo / "lineage" / "run-1").iterdir()) == [
        ".gitignore",  # the outputs `dvc pull` brings
        "lineage.json",
        "model.dvc",
        "report.dvc",
    ]
    assert len([p for p in remote.rglob("*") if p.is_file()]) >= 2  # both files' contents uploaded


def test_push_to_s3_leaves_no_upload_leftovers_and_git_ignores_what_pull_brings(s3_server, tmp_path):
    """`dvc add --to-remote` leaves one temporary object per file it uploads; push removes its own,
    never another's (one planted before the push stays)."""
    import s3fs

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=repo, check=True)
    remote = f"{s3_server.bucket}/leftovers-dvc"
    subprocess.run([DVC, "remote", "add", "-d", "s3", f"s3://{remote}"], cwd=repo, check=True)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    planted = f"{remote}/files/md5/.{'x' * 22}.tmp"
    fs.pipe(planted, b"someone else's upload in flight")
    outputs = {}
    for name, n in (("model", 4), ("report", 1)):
        (tmp_path / name).mkdir()
        for i in range(n):
            (tmp_path / name / f"{i}.bin").write_bytes(f"{name} {i}\n".encode() * 100)
        outputs[name] = str(tmp_path / name)
    manifest = record("run-s3", "abc", {}, {}, outputs)
    (tmp_path / "lineage.json").write_text(json.dumps(manifest))

    assert main(["lineage", "push", str(tmp_path / "lineage.json"), "--repo", str(repo)]) == 0
    stored = fs.find(f"{remote}/files/md5")
    assert [p for p in stored if p.endswith(".tmp")] == [planted]
    assert len([p for p in stored if not p.endswith((".tmp", ".dir"))]) == 5  # every file's content, once
    assert (repo / "lineage" / "run-s3" / ".gitignore").read_text() == "/model\n/report\n"


def _dvc_repo(path: Path, remote: Path) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=path, check=True)
    subprocess.run([DVC, "remote", "add", "-d", "local", str(remote)], cwd=path, check=True)
    return path


def test_a_cluster_runs_minio_artifacts_push_as_s3_and_an_unreadable_one_fails_in_one_line(
    s3_server, tmp_path, capfd
):
    """A run on KFP's default root records its outputs as minio://BUCKET/KEY (MinIO is S3: the
    loopback server plays it); push reads them with this machine's AWS settings. An output push
    cannot read (a gs:// root, a pod's path, nothing there, wrong keys) fails in one line, pushing nothing."""
    import s3fs

    from compclip.outputs import local_out

    with local_out(str(tmp_path / "model")) as folder:  # what the task wrote at its artifact's .path
        (folder / "weights.bin").write_bytes(b"w" * 1000)
    key = f"{s3_server.bucket}/v2/artifacts/compclip/run-9/train/model"
    s3fs.S3FileSystem(skip_instance_cache=True).put(f"{tmp_path / 'model'}/", key, recursive=True)
    outputs = {"model": f"minio://{key}"}
    manifest = record("run-9", "abc", {}, {}, outputs, copies={"model": str(tmp_path / "model")})
    (tmp_path / "lineage.json").write_text(json.dumps(manifest))
    repo = _dvc_repo(tmp_path / "repo", tmp_path / "remote")

    assert main(["lineage", "push", str(tmp_path / "lineage.json"), "--repo", str(repo)]) == 0
    assert (repo / "lineage" / "run-9" / "model.dvc").is_file()
    stored = [p.read_bytes() for p in (tmp_path / "remote").rglob("*") if p.is_file()]
    assert b"w" * 1000 in stored

    for uri, why in (
        ("gs://bucket/kfp/run/model", "a scheme push cannot read"),
        ("/var/lib/kubelet/pods/x/model", "not on this machine"),
        (f"minio://{s3_server.bucket}/v2/artifacts/none", "nothing there"),
    ):
        manifest["run_id"], manifest["outputs"]["model"]["uri"] = "run-10", uri
        (tmp_path / "bad.json").write_text(json.dumps(manifest))
        capfd.readouterr()
        assert main(["lineage", "push", str(tmp_path / "bad.json"), "--repo", str(repo)]) == 2
        err = capfd.readouterr().err
        assert err == f"compclip lineage: error: output model is at {uri}: {why}\n" or why in err, err
        assert len(err.strip().splitlines()) == 1 and not (repo / "lineage" / "run-10").exists()

    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    done = subprocess.run([str(Path(sys.executable).parent / "compclip"), "lineage", "push",
                           str(tmp_path / "lineage.json"), "--repo", str(repo)],
                          capture_output=True, text=True, env=env)  # fmt: skip
    last = done.stderr.strip().splitlines()[-1]  # after the INFO lines every command logs
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert last.startswith("compclip lineage: error: S3 at") and "access denied" in last
    assert "not-the-secret" not in done.stderr
