"""`compclip pretrain` then `compclip train` through the CLI on a tiny PIL-drawn dataset."""

import json

import pytest

from compclip.cli import main
from unit.test_train_fixtures import write_dataset

pytestmark = pytest.mark.integration
FAST = ["--threads", "1", "--batch-size", "4", "--max-steps", "2"]


def cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n=8)


def test_pretrain_then_degla_fine_tune(dataset, tmp_path):
    folder, negatives = dataset
    assert cli("pretrain", "--data", folder, "--out", tmp_path / "pre", *FAST) == 0
    assert json.loads((tmp_path / "pre" / "metrics.json").read_text())["method"] == "clip"
    out = tmp_path / "degla"
    assert (
        cli(
            "train",
            "--model",
            tmp_path / "pre",
            "--data",
            folder,
            "--negatives",
            negatives,
            "--out",
            out,
            *FAST,
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "degla" and metrics["steps"] == 2 and metrics["loss_tgc"] > 0
    assert json.loads((out / "manifest.json").read_text())["training"]["base"] == str(tmp_path / "pre")


def test_too_few_negatives_is_one_clear_line(dataset, tmp_path, capsys):
    folder, negatives = dataset
    code = cli("train", "--model", "compclip-tiny-rn", "--data", folder, "--negatives", negatives,
               "--out", tmp_path / "x", "--k-negatives", "9", *FAST)  # fmt: skip
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("compclip train: error: 8 of 8 captions have fewer than K=9 valid negatives")


@pytest.mark.parametrize("command", ["train", "pretrain"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit):
        cli(command, "--help")
    assert "examples:" in capsys.readouterr().out


def test_a_diverging_run_exits_2_and_publishes_nothing(dataset, tmp_path, capsys):
    """An lr of 1e30 is finite, so accepted; the first step sends the weights to ~1e30 and the
    second step's loss is NaN: the run stops there, one line, exit 2, nothing at --out."""
    folder, _ = dataset
    params = tmp_path / "params.yaml"
    params.write_text("pretrain: {optim: {warmup_steps: 0}, checkpoint_every: 1}\n")
    out = tmp_path / "pre"
    code = cli("pretrain", "--data", folder, "--out", out, "--lr", "1e30", "--params", params, *FAST)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    stopped = "training stopped at step 2: the loss (total nan, global nan) is not finite"
    assert err.strip().splitlines()[-1].startswith(f"compclip pretrain: error: {stopped}")
    assert not out.exists() and (tmp_path / "pre.checkpoints" / "step_1").is_dir()
