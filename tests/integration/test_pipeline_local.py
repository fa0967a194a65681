"""The whole pipeline through kfp's local runner on a small world, its data pushed to S3 and pulled back."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from compclip.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# A small world and one fine-tuning: every stage runs, in minutes on two cores.
SMALL = {
    "world.n": 800, "finetune.n": 100, "pmi.min_count": 1, "pmi.workers": 1, "evalsets.per_stratum": 4,
    "evalsets.single_per_class": 2, "evalsets.per_subset": 6, "evalsets.max_reject_share": 0.95,
    "pretrain.optim.epochs": 1, "pretrain.data.batch_size": 32, "pretrain.threads": 1,
    "train.optim.epochs": 1, "train.threads": 1, "train.data.batch_size": 16, "evaluate.stats.n_boot": 20,
    "evaluate.runtime.batch_size": 64, "methods": "[degla]",
    "shards": 2,
}  # fmt: skip


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _dvc(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _clone(source: Path, target: Path, bucket: str) -> Path:
    _git("clone", "-q", str(source), str(target), cwd=source.parent)
    _dvc("remote", "modify", "--local", "s3", "url", f"s3://{bucket}/dvc", cwd=target)
    return target


def _md5s(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_pipeline_runs_locally_caches_and_its_outputs_round_trip_through_dvc(s3_server, tmp_path, capsys):
    repo = _clone(REPO, tmp_path / "repo", s3_server.bucket)
    root = tmp_path / "kfp"
    argv = ["pipeline", "run", "--root", str(root), "--params", str(repo / "params.yaml"), "--push"]
    argv += ["--repo", str(repo), f"--param=registry.root=s3://{s3_server.bucket}/registry"]
    argv += [f"--param={k}={v}" for k, v in SMALL.items()]
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "| metric | base | degla |" in out and "dvc pull -R lineage/" in out
    (run_folder,) = (repo / "lineage").iterdir()
    manifest = json.loads((run_folder / "lineage.json").read_text())
    assert manifest["params"]["world"]["n"] == 800 and manifest["git_commit"] != "unknown"
    assert main(["registry", "list", "world-degla", "--root", f"s3://{s3_server.bucket}/registry"]) == 0
    assert "v1" in capsys.readouterr().out  # the candidate was published
    assert {
        "world",
        "pmi",
        "evalsets",
        "negatives",
        "model-degla",
        "report-base",
        "report-degla",
        "compare",
    } <= set(manifest["outputs"])

    # a second run reruns nothing but its own lineage record and publication
    runs = set(root.iterdir())
    assert main(argv) == 0
    (second,) = set(root.iterdir()) - runs
    # (a task's folder is numbered, e.g. publish-2, when its component appears in more than one branch)
    rerun = {re.sub(r"-\d+$", "", p.name) for p in second.iterdir() if p.is_dir()}
    assert rerun <= {"lineage-record", "publish"}, sorted(rerun)

    # a fresh clone gets the first run's data from S3, byte for byte
    _git("add", "lineage", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a run", cwd=repo)
    clone = _clone(repo, tmp_path / "clone", s3_server.bucket)
    _dvc("pull", "-R", f"lineage/{run_folder.name}", cwd=clone)
    for name, output in manifest["outputs"].items():
        pulled = _md5s(clone / "lineage" / run_folder.name / name)
        assert pulled == _md5s(Path(output["uri"])), name
        shas = {
            k: hashlib.sha256((clone / "lineage" / run_folder.name / name / k).read_bytes()).hexdigest()
            for k in output["files"]
        }
        assert shas == output["files"], name
    assert os.environ["AWS_ENDPOINT_URL"] == s3_server.endpoint
