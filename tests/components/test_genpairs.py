import pytest

from compclip.components.genpairs.component import genpairs_merge, genpairs_shard, shard_plan
from compclip.images import image


def test_the_shard_runs_in_the_gen_image_with_its_params_section_and_a_typed_output():
    spec = genpairs_shard.component_spec
    assert spec.implementation.container.image == image("gen")
    assert genpairs_merge.component_spec.implementation.container.image == image("gen")
    assert shard_plan.component_spec.implementation.container.image == image("core")
    assert spec.inputs["config"].type == "Dict"
    assert spec.outputs["shard"].type == "system.Dataset@0.0.1"


def test_the_plan_lists_every_shard_once():
    assert shard_plan.python_func(shards=3) == ["0/3", "1/3", "2/3"]
    with pytest.raises(ValueError, match="at least 1"):
        shard_plan.python_func(shards=0)


def test_a_shard_task_passes_its_part_and_the_shared_work_folder(monkeypatch, tmp_path):
    from kfp.dsl import Dataset

    calls = []
    monkeypatch.setattr("compclip.cli.run", lambda argv, params=None: calls.append((argv, params)))
    for part in ("0/2", "1/2"):
        out = Dataset(name="shard", uri=str(tmp_path / part.replace("/", "_")))
        genpairs_shard.python_func(pmi="pmi", part=part, work_dir="/work/", config={"seed": 1}, shard=out)
        assert out.metadata["shard"] == part
    (first, params), (second, _) = calls
    assert first[first.index("--shard") + 1] == "0/2" and params == {"genpairs": {"seed": 1}}
    assert first[first.index("--work-dir") + 1] == second[second.index("--work-dir") + 1] == "/work/"
    genpairs_shard.python_func(pmi="p", part="0/1", work_dir="", config={}, shard=Dataset(name="s", uri="x"))
    assert "--work-dir" not in calls[-1][0]
