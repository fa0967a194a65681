"""`compclip pretrain` and `compclip train` with every input and output on S3 (SeaweedFS on loopback):
the same model files as on local paths, and a run killed mid-way resumed by itself from the newest
complete checkpoint of its S3 work folder."""

import json

import fsspec
import pytest

from compclip.cli import main
from compclip.storage import exists, read_bytes
from compclip.train.checkpoints import CheckpointDir
from compclip.train.run import LossLog
from unit.test_train_fixtures import write_dataset

pytestmark = pytest.mark.integration
FAST = ["--threads", "1", "--batch-size", "4", "--seed", "0"]
TRAIN = [*FAST, "--max-steps", "4", "--checkpoint-every", "2"]
SAME = ("open_clip_model.safetensors", "open_clip_config.json", "losses.jsonl")


def cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, s3_server):
    """A local dataset and its S3 copy, and pretrain + DeGLA runs on each (local paths, S3 URIs)."""
    local = tmp_path_factory.mktemp("local")
    folder, negatives = write_dataset(local / "data", n=8)
    fs = fsspec.filesystem("s3")
    s3 = f"s3://{s3_server.bucket}/train-test"
    fs.put(str(folder) + "/", f"{s3}/data", recursive=True)
    assert cli("pretrain", "--data", folder, "--out", local / "pre", *FAST, "--max-steps", "2") == 0
    assert cli("pretrain", "--data", f"{s3}/data", "--out", f"{s3}/pre", *FAST, "--max-steps", "2",
               "--work-dir", f"{s3}/work/pre") == 0  # fmt: skip
    assert cli("train", "--model", local / "pre", "--data", folder, "--negatives", negatives,
               "--out", local / "degla", *TRAIN) == 0  # fmt: skip
    assert cli("train", "--model", f"{s3}/pre", "--data", f"{s3}/data", "--negatives",
               f"{s3}/data/negatives.json", "--out", f"{s3}/degla", *TRAIN,
               "--work-dir", f"{s3}/work/degla") == 0  # fmt: skip
    fs.invalidate_cache()
    return local, s3, fs


@pytest.mark.parametrize("model", ["pre", "degla"])
def test_s3_run_writes_the_same_model_files_as_a_local_run(runs, model):
    local, s3, fs = runs
    for name in SAME:
        assert read_bytes(f"{s3}/{model}/{name}") == (local / model / name).read_bytes(), name
    manifests = [
        json.loads(read_bytes(f"{s3}/{model}/manifest.json")),
        json.loads((local / model / "manifest.json").read_text()),
    ]
    assert (
        manifests[0]["training"]["fingerprint"] == manifests[1]["training"]["fingerprint"]
    )  # content, not paths
    left = CheckpointDir(f"{s3}/work/{model}", local)
    assert left.steps() == []  # a finished run removes its checkpoints
    assert not fs.exists(f"{left.uri}/step_2/student.safetensors")


def test_run_killed_on_one_pod_resumes_from_its_s3_checkpoints(runs, monkeypatch):
    local, s3, fs = runs
    inputs = ["--model", f"{s3}/pre", "--data", f"{s3}/data", "--negatives", f"{s3}/data/negatives.json"]
    args = [
        "train",
        *inputs,
        "--out",
        f"{s3}/resumed",
        *TRAIN,
        "--work-dir",
        f"{s3}/work/resumed",
    ]
    write = LossLog.write

    def preempted_after_step_3(self, record):
        write(self, record)
        if record["step"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(LossLog, "write", preempted_after_step_3)
    assert cli(*args) == 130  # interrupted
    monkeypatch.undo()
    fs.invalidate_cache()
    assert not exists(f"{s3}/resumed")  # nothing published by the killed run
    assert fs.exists(f"{s3}/work/resumed/step_2/checkpoint.json")
    # a pod killed while it uploaded step 4: its files but not yet its manifest, which goes last
    fs.pipe(f"{s3}/work/resumed/step_4/student.safetensors", b"half")
    assert cli(*args) == 0  # the same command: its local working folder is gone, step 2 comes from S3
    fs.invalidate_cache()
    for name in SAME:
        assert read_bytes(f"{s3}/resumed/{name}") == (local / "degla" / name).read_bytes(), name
