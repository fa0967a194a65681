"""The GPU data generation pipeline through kfp's local runner with the tiny models: the pairs, the
captions, two image shards as two tasks, then the merge, equal to one `compclip genpairs run`."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from compclip.cli import main
from compclip.dataset import read_image

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _read(folder: Path):
    """The set's items by id (without the image shard that holds each: a merge renumbers them), its
    images' bytes and its header less the task's shard."""
    items = sorted(pq.read_table(folder / "items.parquet").to_pylist(), key=lambda r: r["id"])
    images = {r["id"]: read_image(str(folder), r) for r in items}
    header = json.loads((folder / "evalset.json").read_text())
    return (
        [{k: v for k, v in r.items() if k != "shard"} for r in items],
        images,
        {k: v for k, v in header.items() if k not in ("shard", "shards")},
    )


def test_two_shard_tasks_and_the_merge_equal_one_run(pmi_table, tiny_llm, tiny_flux, tiny_classes, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(tiny_classes) + "\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["genpairs"] = {
        "select": {"classes": str(classes), "n_strata": 2, "per_stratum": 2, "candidates": {"min_count": 1}},
        "captions": {"model": str(tiny_llm), "batch_size": 2, "samples": 12, "max_new_tokens": 24,
                     "temperature": 1.5, "min_p": 0.0, "chunk": 2, "max_reject_share": 1.0,
                     "dtype": "float32", "device": "cpu"},
        "images": {"chunk": 1, "images_per_caption": 1,
                   "flux": {"model": str(tiny_flux), "size": 32, "steps": 2, "max_sequence_length": 16,
                            "batch_size": 2, "dtype": "float32", "device": "cpu"}},
    }  # fmt: skip
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    root = tmp_path / "kfp"
    argv = ["pipeline", "run", "--pipeline", "genpairs", "--root", str(root), "--params", str(params_file)]
    assert main([*argv, "--param", f"pmi_table={pmi_table}", "--param", "n_shards=2"]) == 0

    shards = sorted(p.parent for p in root.rglob("genpairs-images*/**/evalset.json"))
    headers = [json.loads((s / "evalset.json").read_text()) for s in shards]
    assert sorted(h["shard"] for h in headers) == ["0/2", "1/2"]
    (merged,) = [p.parent for p in root.rglob("genpairs-merge*/**/evalset.json")]
    one = tmp_path / "one"
    argv = ["genpairs", "run", "--pmi", str(pmi_table), "--out", str(one), "--params", str(params_file)]
    assert main(argv) == 0
    items, images, header = _read(merged)
    assert len(items) > 0 and (items, images, header) == _read(one)
    assert sum(h["n"] for h in headers) == len(items)
