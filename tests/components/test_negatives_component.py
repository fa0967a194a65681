import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kfp.dsl import Dataset

from compclip.components.negatives.component import (
    negatives_generate,
    negatives_generator,
    negatives_merge,
    negatives_shard,
)
from compclip.errors import UserError
from compclip.images import image


def test_rules_and_the_merge_run_in_the_core_image_the_llm_shards_in_the_gen_image_with_typed_outputs():
    for component, family, output in (
        (negatives_generate, "core", "negatives"),
        (negatives_shard, "gen", "shard"),
        (negatives_merge, "core", "negatives"),
    ):
        spec = component.component_spec
        assert spec.implementation.container.image == image(family)
        assert spec.outputs[output].type == "system.Dataset@0.0.1"
    assert negatives_shard.component_spec.inputs["config"].type == "Dict"


def _data(folder, world: bool) -> Dataset:
    folder.mkdir()
    pq.write_table(
        pa.table({"id": ["a"], "caption": ["a red car"], "image": ["a.png"]}), folder / "captions.parquet"
    )
    header = {"kind": "image-captions", **({"world": {"objects": []}} if world else {"source": "coco"})}
    (folder / "dataset.json").write_text(json.dumps(header))
    data = Dataset(uri=str(folder))
    data.path = str(folder)  # the local runner's path of the artifact
    return data


def test_the_branch_is_the_llm_when_the_settings_give_it_a_type_of_these_captions(tmp_path):
    world, real = _data(tmp_path / "world", True), _data(tmp_path / "real", False)
    choose = negatives_generator.python_func
    assert choose(config={}, data=real) == "llm"  # auto: real captions' llm_types
    assert choose(config={}, data=world) == "rules"  # the world: the rules for every type
    assert choose(config={"llm_types": []}, data=real) == "rules"
    assert choose(config={"generator": "rules"}, data=real) == "rules"
    assert choose(config={"generator": "llm"}, data=world) == "llm"
    with pytest.raises(UserError, match="colour"):
        choose(config={"colour": "red"}, data=real)
