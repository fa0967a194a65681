import pytest
from kfp.dsl import Dataset

from compclip.components.genpairs.component import (
    genpairs_captions,
    genpairs_images,
    genpairs_merge,
    genpairs_pairs,
    shard_plan,
)
from compclip.images import image


def test_the_cpu_phases_run_in_the_core_image_and_the_model_phases_in_gen():
    assert shard_plan.component_spec.implementation.container.image == image("core")
    assert genpairs_pairs.component_spec.implementation.container.image == image("core")
    for component in (genpairs_captions, genpairs_images, genpairs_merge):
        assert component.component_spec.implementation.container.image == image("gen")
    spec = genpairs_images.component_spec
    assert spec.inputs["config"].type == "Dict" and spec.inputs["captions"].type == "system.Dataset@0.0.1"
    assert spec.outputs["shard"].type == "system.Dataset@0.0.1"
    assert genpairs_captions.component_spec.inputs["pairs"].type == "system.Dataset@0.0.1"


def test_the_plan_lists_every_shard_once():
    assert shard_plan.python_func(shards=3) == ["0/3", "1/3", "2/3"]
    with pytest.raises(ValueError, match="at least 1"):
        shard_plan.python_func(shards=0)


def test_each_phase_passes_its_inputs_and_the_shared_work_folder(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("compclip.cli.run", lambda argv, params=None: calls.append((argv, params)))
    pairs, captions = (Dataset(name=n, uri=str(tmp_path / n)) for n in ("pairs", "captions"))
    genpairs_pairs.python_func(pmi="s3://b/pmi", config={"select": {"seed": 1}}, pairs=pairs)
    genpairs_captions.python_func(
        pmi="s3://b/pmi", pairs=pairs, work_root="s3://b/work", config={}, captions=captions
    )
    for part in ("0/2", "1/2"):
        out = Dataset(name="shard", uri=str(tmp_path / part.replace("/", "_")))
        genpairs_images.python_func(
            captions=captions, part=part, work_root="s3://b/work", config={}, shard=out
        )
        assert out.metadata["shard"] == part
    genpairs_images.python_func(captions=captions, part="0/2", work_root="", config={}, shard=out)
    (select, params), (caption, _), (first, _), (second, _), (alone, _) = calls
    assert select[:2] == ["genpairs", "pairs"] and params == {"genpairs": {"select": {"seed": 1}}}
    assert select[select.index("--out") + 1] == caption[caption.index("--pairs") + 1] == pairs.path
    assert caption[caption.index("--out") + 1] == first[first.index("--captions") + 1] == captions.path
    # under the root, a work folder per phase and inputs; the image shards share one (each works in
    # a subfolder of its own), and no root is the task's own disk
    work = caption[caption.index("--work-dir") + 1], first[first.index("--work-dir") + 1]
    assert work[0].startswith("s3://b/work/genpairs-captions-") and work[1].startswith(
        "s3://b/work/genpairs-images-"
    )
    assert second[second.index("--work-dir") + 1] == work[1] and "--work-dir" not in alone
    assert first[first.index("--shard") + 1] == "0/2" and second[second.index("--shard") + 1] == "1/2"
