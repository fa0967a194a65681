import json

import pyarrow.parquet as pq
from kfp.dsl import Dataset

from compclip.components.world.component import world_corpus


def test_writes_a_corpus_from_its_params_section_given_as_kubeflow_numbers(tmp_path):
    corpus = Dataset(name="corpus", uri=str(tmp_path / "corpus"))
    world_corpus.python_func(
        config={"n": 6.0, "seed": 3.0}, section="finetune", corpus=corpus
    )  # numbers as doubles
    table = pq.read_table(tmp_path / "corpus" / "captions.parquet")
    index = json.loads((tmp_path / "corpus" / "shards" / "000000.json").read_text())
    assert table.num_rows == 6 and sorted(index["members"]) == [f"{i:07d}.png" for i in range(6)]
