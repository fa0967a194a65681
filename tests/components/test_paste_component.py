from kfp.dsl import Dataset

from compclip.components.paste.component import paint_accessories, paste_merge, paste_shard
from compclip.images import image


def test_runs_in_the_gen_image_with_its_params_section_and_a_typed_output():
    spec = paste_shard.component_spec
    for component in (paint_accessories, paste_shard, paste_merge):
        assert component.component_spec.implementation.container.image == image("gen")
    assert spec.inputs["config"].type == "Dict" and spec.inputs["cache"].type == "system.Dataset@0.0.1"
    assert paste_merge.component_spec.outputs["evalset"].type == "system.Dataset@0.0.1"
    assert paint_accessories.component_spec.outputs["cache"].type == "system.Dataset@0.0.1"


def test_every_shard_reads_the_one_cache_and_accessories_are_passed_only_when_given(monkeypatch):
    painted = []
    monkeypatch.setattr("compclip.paste.run.paint_accessories", lambda *args: painted.append(args))
    cache = Dataset(name="cache", uri="/cache")
    for accessories in ("s3://b/acc", ""):
        paint_accessories.python_func(images="s3://b/val", pmi="p", accessories=accessories,
                                      config={"seed": 3}, cache=cache)  # fmt: skip
    (images, pmi, where, config, given), (*_, none) = painted
    assert (images, pmi, where, config.seed) == ("s3://b/val", "p", cache.path, 3)
    assert (given, none) == ("s3://b/acc", None)
    shards = []
    monkeypatch.setattr("compclip.paste.run.paste_set", lambda *args: shards.append(args))
    for accessories in ("s3://b/acc", ""):
        out = Dataset(name="s", uri="x")
        paste_shard.python_func(images="s3://b/val", pmi="p", accessories=accessories, cache=cache,
                                part="1/4", work_root="", config={"seed": 2}, shard=out)  # fmt: skip
    (images, pmi, _, config, given, shard, work), (*_, none, _, _) = shards
    assert (images, pmi, given, none, work) == ("s3://b/val", "p", "s3://b/acc", None, None)
    assert (shard.index, shard.count) == (1, 4) and config.seed == 2 and config.accessory_cache == cache.path
