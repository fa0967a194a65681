"""The loop: optimizer groups, schedule, EMA teacher, outputs, a killed run resumed bit for bit,
and resumes refused for another run's or a tampered checkpoint."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file
from test_train_fixtures import write_dataset

from compclip.errors import UserError
from compclip.models import create_model, load_model
from compclip.models.loading import WEIGHTS
from compclip.outputs import WORK_MARKER
from compclip.storage import MARKER
from compclip.train import DataConfig, OptimConfig, TrainConfig, run
from compclip.train.ema import ema_update, make_teacher
from compclip.train.loop import cosine_schedule, param_groups
from compclip.train.run import LossLog, default_work_dir

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


def tiny():
    return create_model("compclip-tiny-rn")


def weights(path):
    return load_file(path)


def distance(a: dict, b: dict, names: set[str]) -> float:
    return sum(float((a[k].double() - b[k].double()).pow(2).sum()) for k in names)


@pytest.fixture(scope="module")
def killed(dataset, tmp_path_factory):
    """The checkpoint folder of a run killed after step 3 (its last checkpoint: step 2)."""
    folder, negatives = dataset
    out = tmp_path_factory.mktemp("killed") / "model"
    write = LossLog.write

    def killed_after_step_3(self, record):
        write(self, record)
        if record["step"] == 3:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LossLog, "write", killed_after_step_3)
        with pytest.raises(KeyboardInterrupt):
            run(tiny(), folder, negatives, out, _config())  # 3 steps an epoch, 6 steps, checkpoints at 2, 4
    assert not out.exists()  # nothing published at --out by a failed run
    return Path(default_work_dir(str(out)))


def copy_of(checkpoints: Path, tmp_path: Path) -> Path:
    shutil.copytree(checkpoints, tmp_path / "model.checkpoints")
    return tmp_path / "model"


@pytest.mark.parametrize("given", [False, True], ids=["beside-out", "work-dir"])
def test_killed_run_resumes_by_itself_to_the_same_weights(dataset, killed, tmp_path, given):
    """The same call again resumes from the work folder (the default one, or the one given)."""
    folder, negatives = dataset
    config = _config()
    run(tiny(), folder, negatives, tmp_path / "full", config)
    assert [p.name for p in killed.iterdir()] == ["step_2", WORK_MARKER]
    out = copy_of(killed, tmp_path)
    work = None
    if given:
        work = str(tmp_path / "work")
        shutil.move(f"{out}.checkpoints", work)
    bundle = tiny()
    torch.manual_seed(1234)  # the loop must not depend on global random state
    metrics = run(bundle, folder, negatives, out, config, work_dir=work)

    assert metrics["resumed_from_step"] == 2 and metrics["steps"] == 6
    full, resumed = weights(tmp_path / "full" / WEIGHTS), weights(out / WEIGHTS)
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    curves = [(tmp_path / name / "losses.jsonl").read_text().splitlines() for name in ("full", "model")]
    assert [json.loads(r)["total"] for r in curves[0]] == [json.loads(r)["total"] for r in curves[1]]
    assert not (tmp_path / "model.checkpoints").exists() and not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            {"config": _config(optim=OptimConfig(lr=2e-4, warmup_steps=2, epochs=2))},
            r"optim\.lr \(0\.0001 -> 0\.0002\)",
        ),
        ({"seed": 3}, "base_model"),
        ({"negatives": "reversed"}, "negatives"),
        ({"data": "one caption changed"}, "data"),
    ],
)
def test_resume_with_another_config_or_input_is_refused(dataset, killed, tmp_path, change, named):
    folder, negatives = dataset
    if "negatives" in change or "data" in change:
        folder = Path(shutil.copytree(folder, tmp_path / "data"))
        negatives = folder / "negatives.json"
        records = json.loads(negatives.read_text())
        if "negatives" in change:
            records[0]["enhanced"].reverse()
        else:
            table = pq.read_table(folder / "captions.parquet").to_pylist()
            table[5]["caption"] = records[5]["original"] = "a different caption"
            pq.write_table(pa.Table.from_pylist(table), folder / "captions.parquet")
        negatives.write_text(json.dumps(records))
    out = copy_of(killed, tmp_path)
    bundle = create_model("compclip-tiny-rn", seed=change.get("seed", 0))
    with pytest.raises(UserError, match=f"made by another run; it differs in {named}"):
        run(bundle, folder, negatives, out, change.get("config", _config()))


def _poisoned(bundle, step: int):
    """A LossLog.write that sets one weight of ``bundle`` to NaN after ``step``: a fault mid-run."""
    write = LossLog.write

    def write_then_poison(self, record):
        write(self, record)
        if record["step"] == step:
            with torch.no_grad():
                next(bundle.model.parameters()).view(-1)[0] = float("nan")

    return write_then_poison


@pytest.mark.parametrize(
    ("poisoned_after", "stopped"),
    [(3, "step 4: the loss \\(total nan.*\\) is not finite"), (4, "step 4: the weights are not finite")],
)
def test_a_non_finite_run_stops_publishes_nothing_and_resumes_from_the_last_good_checkpoint(
    dataset, tmp_path, poisoned_after, stopped
):
    folder, negatives = dataset
    out, bundle = tmp_path / "model", tiny()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LossLog, "write", _poisoned(bundle, poisoned_after))
        with pytest.raises(UserError, match=f"training stopped at {stopped}; nothing was published") as err:
            run(bundle, folder, negatives, out, _config())  # checkpoints at steps 2 and 4 of 6
    assert str(err.value).endswith(
        f"the last good checkpoint, {out}.checkpoints/step_2, stays: a rerun resumes from it"
    )
    assert not out.exists()
    assert sorted(p.name for p in Path(f"{out}.checkpoints").iterdir()) == [WORK_MARKER, "step_2"]
    metrics = run(tiny(), folder, negatives, out, _config())
    assert metrics["resumed_from_step"] == 2 and metrics["steps"] == 6
    assert all(torch.isfinite(w).all() for w in weights(out / WEIGHTS).values())


@pytest.mark.parametrize("file", ["optimizer.safetensors", "state.json", "extra.pkl"])
def test_tampered_checkpoint_is_refused_naming_the_file(dataset, killed, tmp_path, file):
    folder, negatives = dataset
    out = copy_of(killed, tmp_path)
    path = tmp_path / "model.checkpoints" / "step_2" / file
    path.write_bytes((path.read_bytes() if path.exists() else b"") + b"\0")
    refused = rf"step_2(/{file}: not in the checkpoint|: {file} does not match its sha256)"
    with pytest.raises(UserError, match=refused):
        run(tiny(), folder, negatives, out, _config())


def test_outputs_load_back_with_their_manifest_and_trained_weights(dataset, tmp_path):
    folder, negatives = dataset
    start = tiny()
    initial = {k: v.clone() for k, v in start.model.state_dict().items()}
    metrics = run(
        start,
        folder,
        negatives,
        tmp_path / "out",
        _config(checkpoint_every=0, optim=OptimConfig(max_steps=2)),
    )
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {
        "losses.jsonl",
        "losses.png",
        "metrics.json",
        "manifest.json",
        WEIGHTS,
        "open_clip_config.json",
        MARKER,
    }
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["config"]["method"] == "degla" and "losses.jsonl" in manifest["files"]
    assert set(manifest["training"]["fingerprint"]) == {"config", "base_model", "data", "negatives"}
    assert metrics["steps"] == 2 and metrics["loss_distill"] > 0 and metrics["loss_igc"] > 0
    loaded = load_model(str(out)).model.state_dict()
    changed = [
        k for k in initial if initial[k].is_floating_point() and not torch.equal(initial[k], loaded[k])
    ]
    assert "text_projection" in changed


def test_ema_teacher_stays_closer_to_the_start_than_the_student(dataset, tmp_path):
    folder, negatives = dataset
    start = tiny()
    initial = {k: v.clone() for k, v in start.model.state_dict().items()}
    trained = {k for k, _ in start.model.named_parameters()}  # buffers (BatchNorm statistics) are copied
    config = _config(checkpoint_every=2, keep_checkpoints=True, optim=OptimConfig(lr=1e-3, max_steps=3))
    run(start, folder, negatives, tmp_path / "out", config)
    step = tmp_path / "out.checkpoints" / "step_2"  # kept: student and teacher after two steps
    student, teacher = weights(step / "student.safetensors"), weights(step / "teacher.safetensors")
    assert 0 < distance(teacher, initial, trained) < 0.01 * distance(student, initial, trained)


def test_clip_method_needs_no_negatives_but_negclip_does(dataset, tmp_path):
    folder, _ = dataset
    metrics = run(
        tiny(),
        folder,
        None,
        tmp_path / "clip",
        _config(method="clip", checkpoint_every=0, optim=OptimConfig(max_steps=1)),
    )
    assert metrics["steps"] == 1 and metrics["k_negatives"] == 0 and "loss_igc" not in metrics
    with pytest.raises(UserError, match="needs hard negatives"):
        run(tiny(), folder, None, tmp_path / "neg", _config(method="negclip"))
