"""`compclip lineage push`: a run's outputs to a DVC remote (a local folder here), its .dvc files
under lineage/RUN_ID, and one hint to the user rather than DVC's after every output."""

import json
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
        "lineage.json",
        "model.dvc",
        "report.dvc",
    ]
    assert len([p for p in remote.rglob("*") if p.is_file()]) >= 2  # both files' contents uploaded
