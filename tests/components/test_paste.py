from kfp.dsl import Dataset

from compclip.components.paste.component import paste_merge, paste_shard
from compclip.images import image


def test_runs_in_the_gen_image_with_its_params_section_and_a_typed_output():
    spec = paste_shard.component_spec
    assert spec.implementation.container.image == image("gen")
    assert paste_merge.component_spec.implementation.container.image == image("gen")
    assert spec.inputs["config"].type == "Dict"
    assert paste_merge.component_spec.outputs["evalset"].type == "system.Dataset@0.0.1"


def test_accessories_are_passed_only_when_given(monkeypatch):
    calls = []
    monkeypatch.setattr("compclip.paste.run.paste_set", lambda *args: calls.append(args))
    for accessories in ("s3://b/acc", ""):
        out = Dataset(name="s", uri="x")
        paste_shard.python_func(images="s3://b/val", pmi="p", accessories=accessories, part="1/4",
                                work_dir="", config={"seed": 2}, shard=out)  # fmt: skip
    (images, pmi, _, config, given, shard, work), (*_, none, _, _) = calls
    assert (images, pmi, given, none, work) == ("s3://b/val", "p", "s3://b/acc", None, None)
    assert (shard.index, shard.count) == (1, 4) and config.seed == 2
