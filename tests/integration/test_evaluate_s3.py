"""evalsets build, evaluate and compare with every input and output on s3:// give the same bytes as
on local paths (SeaweedFS on loopback; a tiny random-weight model built in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compclip.cli import main
from compclip.models import create_model, save_model
from compclip.outputs import publish_s3
from compclip.pmi import CountConfig, count_corpus
from compclip.storage import local_dir
from compclip.world import CorpusConfig, write_corpus

pytestmark = pytest.mark.integration

SMALL = {"mention": {"accessory": 1.0}, "skew": {"zipf_exponent": 1.3}}
PARAMS = f"""
evalsets: {{seed: 0, n_strata: 4, per_stratum: 4, single_per_class: 2, per_subset: 4, overrides: {SMALL}}}
evaluate:
  runtime: {{device: cpu, batch_size: 32, workers: 0}}
  stats: {{n_bins: 4, n_boot: 50}}
"""


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def download(uri: str) -> dict[str, bytes]:
    """The output at ``uri`` as compclip reads it (through its pointer), marker included."""
    with local_dir(uri) as folder:
        return files(folder)


def test_evalsets_evaluate_and_compare_on_s3_match_local_byte_for_byte(s3_server, tmp_path):
    bucket = f"s3://{s3_server.bucket}/evaluate-s3"
    local = tmp_path / "local"
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS)
    write_corpus(str(tmp_path / "corpus"), CorpusConfig(n=600, seed=1, overrides=SMALL))
    count_corpus([str(tmp_path / "corpus" / "captions.parquet")], tmp_path / "pmi", CountConfig(min_count=1))
    save_model(create_model("compclip-tiny-rn", seed=0), tmp_path / "model")
    publish_s3(tmp_path / "pmi", f"{bucket}/pmi")
    publish_s3(tmp_path / "model", f"{bucket}/model")

    def run(root: str, pmi: str, model: str) -> None:
        sets = f"{root}/evalsets"
        assert main(["evalsets", "build", "--pmi", pmi, "--out", sets, "--params", str(params)]) == 0
        evaluate = [
            "evaluate",
            "--model",
            model,
            "--out",
            f"{root}/report",
            "--params",
            str(params),
            "--zeroshot",
            f"{sets}/genpairs",
            f"{sets}/single",
            "--sugarcrepe",
            f"{sets}/compositional",
            "--sugarcrepe-images",
            f"{sets}/compositional",
        ]
        assert main(evaluate) == 0
        report = f"{root}/report"
        assert main(["compare", f"base={report}", f"again={report}", "--out", f"{root}/compare"]) == 0

    run(str(local), str(tmp_path / "pmi"), str(tmp_path / "model"))
    run(bucket, f"{bucket}/pmi", f"{bucket}/model")
    for stage in ("evalsets", "report", "compare"):
        ours = files(local / stage)
        theirs = download(f"{bucket}/{stage}")
        assert sorted(theirs) == sorted(ours) and len(ours) > 3, stage
        assert [name for name in ours if ours[name] != theirs[name]] == [], stage
    assert {"report.html", "metrics.json", "bins.json", "results/zeroshot_genpairs-world.parquet"} <= set(
        files(local / "report")
    )
    assert {"compare.html", "compare.md", "compare.json", "plots/forest.png"} <= set(files(local / "compare"))
