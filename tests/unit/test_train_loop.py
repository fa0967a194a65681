"""The loop: optimizer groups, schedule, EMA teacher, outputs, and a killed run resumed bit for bit."""

import json

import pytest
import torch
from safetensors.torch import load_file
from test_train_fixtures import write_dataset

from compclip.errors import UserError
from compclip.models import create_model, load_model
from compclip.train import DataConfig, OptimConfig, TrainConfig, run
from compclip.train.ema import ema_update, make_teacher
from compclip.train.loop import cosine_schedule, param_groups
from compclip.train.run import LossLog

torch.set_num_threads(1)


def test_no_weight_decay_on_gains_biases_and_logit_scale():
    model = create_model("compclip-tiny-rn").model
    names = {id(p): n for n, p in model.named_parameters()}
    decay, no_decay = param_groups(model, 0.1)
    skipped = {names[id(p)] for p in no_decay["params"]}
    assert {"logit_scale", "ln_final.weight", "ln_final.bias", "visual.bn1.weight"} <= skipped
    assert "text_projection" in {names[id(p)] for p in decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_warmup_then_cosine_to_zero():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = cosine_schedule(optimizer, warmup=4, total=12)
    lrs = []
    for _ in range(12):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[8] == pytest.approx(0.5) and lrs[-1] < 0.05


def test_ema_teacher_follows_slowly_and_is_never_trained():
    student = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    teacher = make_teacher(student)
    before = teacher[0].weight.clone()
    student(torch.randn(4, 2)).sum().backward()
    with torch.no_grad():
        student[0].weight.add_(1.0)
    ema_update(teacher, student, alpha=0.9)
    torch.testing.assert_close(teacher[0].weight, 0.9 * before + 0.1 * student[0].weight)
    torch.testing.assert_close(teacher[1].running_mean, student[1].running_mean)
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())


def _config(**kw):
    base = dict(
        method="degla",
        optim=OptimConfig(lr=1e-4, warmup_steps=2, epochs=2),
        data=DataConfig(batch_size=4),
        checkpoint_every=2,
    )
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n=12)


def test_killed_run_resumes_to_the_same_weights(dataset, tmp_path, monkeypatch):
    folder, negatives = dataset
    config = _config()  # 3 steps per epoch, 6 steps, checkpoints at 2 and 4
    run(create_model("compclip-tiny-rn"), folder, tmp_path / "full", config, negatives)

    write = LossLog.write

    def killed_after_step_3(self, record):
        write(self, record)
        if record["step"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(LossLog, "write", killed_after_step_3)
    with pytest.raises(KeyboardInterrupt):
        run(create_model("compclip-tiny-rn"), folder, tmp_path / "killed", config, negatives)
    monkeypatch.undo()
    assert (tmp_path / "killed" / "checkpoints" / "step_2").is_dir()
    with pytest.raises(UserError, match="--resume"):
        run(create_model("compclip-tiny-rn"), folder, tmp_path / "killed", config, negatives)
    metrics = run(
        create_model("compclip-tiny-rn", seed=7), folder, tmp_path / "killed", config, negatives, resume=True
    )

    assert metrics["resumed_from_step"] == 2 and metrics["steps"] == 6
    full = load_file(tmp_path / "full" / "open_clip_model.safetensors")
    resumed = load_file(tmp_path / "killed" / "open_clip_model.safetensors")
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    curves = [(tmp_path / name / "losses.jsonl").read_text().splitlines() for name in ("full", "killed")]
    assert [json.loads(r)["total"] for r in curves[0]] == [json.loads(r)["total"] for r in curves[1]]
    assert not (tmp_path / "killed" / "checkpoints").exists()


def test_outputs_load_back_and_teacher_pulls_towards_the_start(dataset, tmp_path):
    folder, negatives = dataset
    start = create_model("compclip-tiny-rn")
    initial = {k: v.clone() for k, v in start.model.state_dict().items()}
    metrics = run(
        start,
        folder,
        tmp_path / "out",
        _config(checkpoint_every=0, optim=OptimConfig(max_steps=2)),
        negatives,
    )
    out = tmp_path / "out"
    assert {"losses.jsonl", "losses.png", "metrics.json", "manifest.json"} <= {p.name for p in out.iterdir()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["config"]["method"] == "degla" and "losses.jsonl" in manifest["files"]
    assert metrics["steps"] == 2 and metrics["loss_distill"] > 0 and metrics["loss_igc"] > 0
    loaded = load_model(str(out)).model.state_dict()
    changed = [
        k for k in initial if initial[k].is_floating_point() and not torch.equal(initial[k], loaded[k])
    ]
    assert "text_projection" in changed


def test_clip_method_needs_no_negatives_but_negclip_does(dataset, tmp_path):
    folder, _ = dataset
    metrics = run(
        create_model("compclip-tiny-rn"),
        folder,
        tmp_path / "clip",
        _config(method="clip", checkpoint_every=0, optim=OptimConfig(max_steps=1)),
    )
    assert metrics["steps"] == 1 and metrics["k_negatives"] == 0 and "loss_igc" not in metrics
    with pytest.raises(UserError, match="needs hard negatives"):
        run(create_model("compclip-tiny-rn"), folder, tmp_path / "neg", _config(method="negclip"))
