"""The main pipeline's LLM negatives through kfp's local runner with the tiny LM: the shard plan, two
shard tasks and the merge, equal to one `compclip negatives generate`."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kfp import dsl
from kfp.dsl import Dataset, Output
from tests.integration.conftest import corpus_captions

from compclip.config import from_dict, override
from compclip.negatives import NegativesConfig, generate
from compclip.negatives.io import read_negatives
from compclip.pipelines.compclip_pipeline import llm_negatives
from compclip.pipelines.local import execute
from compclip.rejects import Rejects

pytestmark = pytest.mark.integration

# timing, and the captions' path (the shards read the data artifact's copy)
UNLIKE = ("seconds", "captions_per_s", "resumed", "shards", "reference")


@dsl.component
def folder(path: str, out: Output[Dataset]):
    """A local folder as a pipeline artifact (what an earlier step would have written)."""
    import shutil

    shutil.copytree(path, out.path)


def _records(found: Path) -> list:
    records = read_negatives(str(found), Rejects())
    return sorted((r.image_id, r.original, tuple(r.enhanced), tuple(r.types)) for r in records)


def test_llm_shards_then_the_merge_equal_one_run(tiny_llm, pmi_table, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    captions = corpus_captions(12, seed=1)
    ids = [f"i{n}" for n in range(len(captions))]
    pq.write_table(pa.table({"id": ids, "caption": captions, "image": ids}), data / "captions.parquet")
    (data / "dataset.json").write_text(json.dumps({"kind": "image-captions", "source": "coco"}))
    config = {
        "types": ["swap_nouns", "replace_adjectives"], "llm_types": ["swap_nouns"], "chunk": 2,
        "filter": {"blind": False},
        "llm": {"model": str(tiny_llm), "batch_size": 2, "shots": 2, "samples": 2, "max_new_tokens": 6,
                "dtype": "float32", "device": "cpu"},
    }  # fmt: skip
    by_shard = llm_negatives(accelerators=False)

    @dsl.pipeline(name="llm-negatives-alone")
    def alone(data_path: str, pmi_path: str, config: dict):
        made = by_shard(
            data=folder(path=data_path).output, pmi=folder(path=pmi_path).output, shards=2, config=config,
            work_root="", accelerator="", gpus=0, gpu_node_selector={}, gpu_tolerations=[],
        )  # fmt: skip
        made.set_display_name("negatives (LLM, sharded)")

    root = tmp_path / "kfp"
    execute(alone, {"data_path": str(data), "pmi_path": str(pmi_table), "config": config}, root, cache=False)

    shards = sorted(p.parent for p in root.rglob("negatives-shard*/**/negatives.json"))
    (merged,) = [p.parent for p in root.rglob("negatives-merge*/**/negatives.json")]
    parts = [json.loads((s / "metrics.json").read_text()) for s in shards]
    assert len(parts) == 2 and sum(p["n_captions"] for p in parts) == len(captions)
    one = generate(
        str(data),
        tmp_path / "one",
        override(from_dict(NegativesConfig, config, "negatives"), pmi=str(pmi_table)),
    )
    assert one["generator_swap_nouns"] == "llm" and one["generator_replace_adjectives"] == "rules"
    assert _records(merged) and _records(merged) == _records(tmp_path / "one")
    metrics = json.loads((merged / "metrics.json").read_text())
    assert metrics["shards"] == 2
    assert {k: v for k, v in metrics.items() if k not in UNLIKE} == {
        k: v for k, v in one.items() if k not in UNLIKE
    }
