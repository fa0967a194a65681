"""`compclip train --processes 2` (two gloo processes through accelerate's launcher) against one process.

The batch size is the global batch: two processes each load half of it, crop each sample as one
process would, and compute the DeGLA loss over the gathered batch, so the loss curve and the final
weights match a one-process run up to float reduction order: the losses within LOSS_TOLERANCE, the
weights within WEIGHT_TOLERANCE, a tenth of one AdamW step at lr 1e-3 (AdamW scales each update by
the gradient's running size, so where a gradient is near zero its rounding noise moves a weight by
up to a step's size; over three steps the largest such gap seen was 3.4e-5).
"""

import json

import pytest
import safetensors.torch
import torch

from compclip.cli import main
from compclip.models import create_model
from unit.test_train_fixtures import write_dataset

pytestmark = pytest.mark.integration
LOSS_TOLERANCE = 1e-5  # absolute, on every loss part of every step
WEIGHT_TOLERANCE = 1e-4  # absolute, on every weight
RUN = ["--model", "compclip-tiny-vit", "--batch-size", "8", "--max-steps", "3", "--threads", "1",
       "--k-negatives", "2", "--checkpoint-every", "2"]  # fmt: skip


@pytest.fixture
def dataset(tmp_path):
    folder, negatives = write_dataset(tmp_path / "data", n=12, k=3)
    params = tmp_path / "params.yaml"
    # weights that move in 3 steps; the step-2 checkpoint kept for a resume
    params.write_text("train: {keep_checkpoints: true, optim: {lr: 1.0e-3, warmup_steps: 1}}\n")
    return folder, negatives, params


def train(dataset, out, *extra):
    folder, negatives, params = dataset
    argv = ["train", *RUN, "--data", folder, "--negatives", negatives, "--params", params, "--out", out]
    return main([str(a) for a in [*argv, *extra]])


def curve(out):
    return [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]


def weights(out):
    return safetensors.torch.load_file(next(out.glob("*.safetensors")))


def test_two_processes_give_the_loss_curve_and_weights_of_one_and_resume_with_one(dataset, tmp_path):
    assert train(dataset, tmp_path / "two", "--processes", "2") == 0
    assert train(dataset, tmp_path / "one") == 0
    one, two = curve(tmp_path / "one"), curve(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3] and {"igc", "tgc", "distill"} <= set(two[0])
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        for part in a:
            assert b[part] == pytest.approx(a[part], abs=LOSS_TOLERANCE), (a["step"], part)
    first, last = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert first.keys() == last.keys()
    base = create_model("compclip-tiny-vit").model.state_dict()
    assert max(float((first[k] - base[k]).abs().max()) for k in first) > 10 * WEIGHT_TOLERANCE  # it trained
    for name in first:
        torch.testing.assert_close(last[name], first[name], atol=WEIGHT_TOLERANCE, rtol=0)
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["steps"] == 3
    # the two-process run's step-2 checkpoint, resumed by one process, ends where the others did
    resumed = tmp_path / "resumed"
    assert train(dataset, resumed, "--work-dir", tmp_path / "two.checkpoints") == 0
    assert json.loads((resumed / "metrics.json").read_text())["resumed_from_step"] == 2
    assert [r["total"] for r in curve(resumed)] == pytest.approx(
        [r["total"] for r in one], abs=LOSS_TOLERANCE
    )
    for name, value in weights(resumed).items():
        torch.testing.assert_close(value, first[name], atol=WEIGHT_TOLERANCE, rtol=0)


def test_a_batch_that_does_not_split_over_the_processes_is_one_line(dataset, tmp_path, capsys):
    assert train(dataset, tmp_path / "out", "--batch-size", "7", "--processes", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "compclip train: error: batch_size 7 (the global batch) does not split over 2 processes; "
        "choose a multiple of 2"
    )
    assert not (tmp_path / "out").exists()
