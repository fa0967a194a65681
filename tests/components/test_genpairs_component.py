import pytest
from kfp.dsl import Dataset

from compclip.components.genpairs.component import (
    genpairs_captions,
    genpairs_images,
    genpairs_merge,
    genpairs_pairs,
    shard_plan,
)
from compclip.errors import UserError
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


def test_each_phase_calls_its_stage_with_its_section_and_the_shared_work_folder(monkeypatch, tmp_path):
    calls = []

    def stage(name):
        return lambda *args: calls.append((name, args))

    monkeypatch.setattr("compclip.genpairs.pairs.select_stage", stage("pairs"))
    monkeypatch.setattr("compclip.genpairs.captions.caption_stage", stage("captions"))
    monkeypatch.setattr("compclip.genpairs.images.image_stage", stage("images"))
    monkeypatch.setattr("compclip.evalsets.generated.merge_evalsets", stage("merge"))
    pairs, captions = (Dataset(name=n, uri=str(tmp_path / n)) for n in ("pairs", "captions"))
    genpairs_pairs.python_func(pmi="s3://b/pmi", config={"select": {"seed": 1}}, pairs=pairs)
    config = {"captions": {"max_new_tokens": 9}, "images": {"images_per_caption": 3}}
    genpairs_captions.python_func(pmi="s3://b/pmi", pairs=pairs, work_root="s3://b/work", config=config,
                                  captions=captions)  # fmt: skip
    shards = []
    for part in ("0/2", "1/2"):
        shards.append(Dataset(name="shard", uri=str(tmp_path / part.replace("/", "_"))))
        genpairs_images.python_func(
            captions=captions, part=part, work_root="s3://b/work", config=config, shard=shards[-1]
        )
        assert shards[-1].metadata["shard"] == part
    alone = Dataset(name="shard", uri=str(tmp_path / "alone"))
    genpairs_images.python_func(captions=captions, part="0/1", work_root="", config=config, shard=alone)
    evalset = Dataset(name="evalset", uri=str(tmp_path / "evalset"))
    genpairs_merge.python_func(shards=shards, evalset=evalset)

    (_, select), (_, caption), (_, first), (_, second), (_, solo), (_, merge) = calls
    assert select[:2] == ("s3://b/pmi", pairs.path) and select[2].seed == 1
    assert caption[:2] == (pairs.path, captions.path) and caption[2].max_new_tokens == 9
    assert first[0] == captions.path and first[2].images_per_caption == 3
    assert (first[3].index, first[3].count, second[3].index) == (0, 2, 1)
    # under the root, a work folder per phase and inputs; the image shards share one (each works in
    # a subfolder of its own), and no root is the task's own disk
    assert caption[3] == "s3://b/pmi" and caption[4].startswith("s3://b/work/genpairs-captions-")
    assert first[4].startswith("s3://b/work/genpairs-images-") and second[4] == first[4]
    assert solo[4] is None
    assert merge == ([s.path for s in shards], evalset.path)


def test_a_bad_setting_or_a_stage_error_fails_the_task_with_its_own_line(monkeypatch, tmp_path):
    pairs = Dataset(name="pairs", uri=str(tmp_path / "pairs"))
    monkeypatch.setattr(
        "compclip.genpairs.pairs.select_stage", lambda *a: pytest.fail("ran with a bad setting")
    )
    with pytest.raises(UserError, match=r"^genpairs\.select: unknown keys \['sed'\]"):
        genpairs_pairs.python_func(pmi="p", config={"select": {"sed": 1}}, pairs=pairs)

    def refuse(*args):
        raise UserError("p: not a PMI table (no header.json)")

    monkeypatch.setattr("compclip.genpairs.pairs.select_stage", refuse)
    with pytest.raises(UserError, match=r"^p: not a PMI table \(no header.json\)$"):
        genpairs_pairs.python_func(pmi="p", config={}, pairs=pairs)
