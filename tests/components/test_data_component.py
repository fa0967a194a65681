import pyarrow.parquet as pq
from kfp.dsl import Dataset

from compclip.components.data.component import finetune_data
from compclip.images import image


def test_without_a_source_the_world_renders_and_a_given_set_is_imported(tmp_path):
    world = Dataset(name="data", uri=str(tmp_path / "world"))
    finetune_data.python_func(source="", config={"n": 4.0, "seed": 1.0}, data=world)  # Kubeflow numbers
    given = Dataset(name="data", uri=str(tmp_path / "given"))
    finetune_data.python_func(source=str(tmp_path / "world"), config={"n": 99}, data=given)
    columns = ["id", "caption", "image", "shard"]
    rendered = pq.read_table(tmp_path / "world" / "captions.parquet").select(columns)
    imported = pq.read_table(tmp_path / "given" / "captions.parquet").select(columns)
    assert rendered.num_rows == 4 and imported.equals(rendered)
    assert (tmp_path / "given/shards/000000.tar").read_bytes() == (
        tmp_path / "world/shards/000000.tar"
    ).read_bytes()
    assert world.metadata["source"] == "world" and given.metadata["source"] == str(tmp_path / "world")
    assert finetune_data.component_spec.implementation.container.image == image("core")
