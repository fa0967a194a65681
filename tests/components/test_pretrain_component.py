from compclip.components.pretrain.component import pretrain
from compclip.images import image


def test_runs_in_the_train_image_with_its_params_section_and_a_typed_output():
    spec = pretrain.component_spec
    assert spec.implementation.container.image == image("train")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["model"].type == "system.Model@0.0.1"


def test_checkpoints_go_under_the_work_root_in_a_folder_named_by_the_inputs(monkeypatch, tmp_path):
    """The task run again on the same inputs resumes from the same folder; other inputs get another."""
    from kfp.dsl import Dataset, Model

    calls = []
    monkeypatch.setattr("compclip.pretrain.pretrain", lambda *a, work_dir, **k: calls.append(work_dir))
    data, model = Dataset(name="d", uri="s3://b/run/world"), Model(name="m", uri=str(tmp_path / "m"))
    for config in ({"seed": 1}, {"seed": 1}, {"seed": 2}):
        pretrain.python_func(data=data, config=config, model=model, work_root="s3://b/work")
    pretrain.python_func(data=data, config={}, model=model)
    assert calls[0] == calls[1] != calls[2] and calls[0].startswith("s3://b/work/pretrain-")
    assert calls[3] is None
