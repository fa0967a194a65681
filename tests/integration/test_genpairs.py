"""GenPairs end to end with a tiny random Llama and a tiny FLUX pipeline loaded from folders."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from compclip.chunks import Shard
from compclip.cli import main
from compclip.errors import UserError
from compclip.evalsets.generated import merge_evalsets
from compclip.genpairs.captions import CaptionConfig, LLMCaptioner, caption_problem
from compclip.genpairs.images import FluxConfig, FluxPainter, image_seed
from compclip.genpairs.pairs import Pair
from compclip.genpairs.run import GenPairsConfig, genpairs
from compclip.pmi import PMITable

pytestmark = pytest.mark.integration


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_llm, tiny_flux, tiny_classes):
    classes = tmp_path_factory.mktemp("classes") / "classes.txt"
    classes.write_text("# test classes\n" + "\n".join(tiny_classes) + "\n")
    return GenPairsConfig(
        classes=str(classes), min_count=1, n_strata=3, per_stratum=2, chunk=3, images_per_caption=2,
        max_reject_share=1.0,
        captions=CaptionConfig(model=str(tiny_llm), batch_size=3, samples=6, max_new_tokens=16,
                               dtype="float32", device="cpu"),
        flux=FluxConfig(model=str(tiny_flux), size=32, steps=2, max_sequence_length=16, batch_size=6,
                        dtype="float32", device="cpu"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def models(config):
    """The models loaded once by the real loaders, handed to the runs that follow."""
    captioner, painter = LLMCaptioner.load(config.captions, config.seed), FluxPainter.load(config.flux)
    return {"captioner": lambda: captioner, "painter": lambda: painter}


@pytest.fixture(scope="module")
def baseline(pmi_table, config, models, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline") / "gp"
    return out, genpairs(str(pmi_table), str(out), config, **models)


def read(folder):
    items = sorted(pq.read_table(folder / "items.parquet").to_pylist(), key=lambda r: r["id"])
    images = {r["id"]: (folder / r["image"]).read_bytes() for r in items}
    return items, images, json.loads((folder / "evalset.json").read_text())


def test_cli_writes_a_zeroshot_set_of_captioned_pairs(pmi_table, config, tiny_classes, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"genpairs": dataclasses.asdict(config)}))
    out = tmp_path / "gp"
    assert main(["genpairs", "run", "--pmi", str(pmi_table), "--out", str(out), "--params", str(params)]) == 0
    items, images, header = read(out)
    metrics = json.loads((out / "metrics.json").read_text())
    table = PMITable.load(pmi_table)
    assert header["kind"] == "zeroshot" and header["classes"] == tiny_classes and header["n"] == len(items)
    assert metrics["pairs"] == header["selection"]["pairs"] == 2 * len(header["strata"])
    assert metrics["pairs_captioned"] + metrics["rejects/pair_without_caption"] == metrics["pairs"]
    assert metrics["pairs_captioned"] > 0 and len(items) == 2 * metrics["pairs_captioned"]
    strata = {s["stratum"] for s in header["strata"]}
    for item in items:
        pair = Pair(item["pair_id"], item["label"], item["accessory"], item["pmi"], item["stratum"])
        assert caption_problem(item["caption"], pair, table) is None
        assert item["seed"] == image_seed(0, item["pair_id"], int(item["id"][-1]))
        assert item["stratum"] in strata and item["label"] in tiny_classes
        assert images[item["id"]][:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / ".gp.genpairs-work").exists()


def test_a_killed_run_resumes_without_repeats_or_losses(pmi_table, config, models, baseline, tmp_path):
    out, work = str(tmp_path / "gp"), tmp_path / "work"
    done = []

    def stop_after_two(index):
        done.append(index)
        if len(done) == 2:
            raise Stop

    with pytest.raises(Stop):
        genpairs(pmi_table, out, config, work_dir=work, after_chunk=stop_after_two, **models)
    assert not (tmp_path / "gp").exists() and len(list((work / "genpairs-0-of-1" / "chunks").iterdir())) == 2
    metrics = genpairs(pmi_table, out, config, work_dir=work, after_chunk=done.append, **models)
    assert metrics["chunks_resumed"] == 2 and done[2:] == list(range(2, metrics["chunks"]))
    assert read(tmp_path / "gp")[:2] == read(baseline[0])[:2]
    assert {k: v for k, v in metrics.items() if k != "chunks_resumed"} == {
        k: v for k, v in baseline[1].items() if k != "chunks_resumed"
    }


def test_shards_merge_into_the_one_run_set(pmi_table, config, models, baseline, tmp_path):
    parts = [str(tmp_path / f"shard{i}") for i in range(2)]
    for i, part in enumerate(parts):
        genpairs(pmi_table, part, config, shard=Shard(i, 2), **models)
    assert main(["genpairs", "merge", *parts, "--out", str(tmp_path / "gp")]) == 0
    merged, reference = read(tmp_path / "gp"), read(baseline[0])
    assert merged[:2] == reference[:2]
    assert merged[2]["shards"] == 2 and "shard" not in merged[2]
    assert {k: v for k, v in merged[2].items() if k != "shards"} == {
        k: v for k, v in reference[2].items() if k != "shard"
    }
    full = next(p for p in parts if json.loads((tmp_path / p / "evalset.json").read_text())["n"])
    with pytest.raises(UserError, match="more than one shard"):
        merge_evalsets([full, full], str(tmp_path / "twice"))


def test_a_work_folder_of_another_run_is_refused(pmi_table, config, models, tmp_path):
    work = tmp_path / "work"
    with pytest.raises(Stop):
        genpairs(pmi_table, str(tmp_path / "a"), config, work_dir=work, after_chunk=_raise, **models)
    other = dataclasses.replace(config, seed=1)
    with pytest.raises(UserError, match="another run"):
        genpairs(pmi_table, str(tmp_path / "a"), other, work_dir=work, **models)


def _raise(index):
    raise Stop


def test_guidance_reaches_the_pipeline(config):
    low = FluxPainter.load(dataclasses.replace(config.flux, guidance=1.0))
    high = FluxPainter.load(dataclasses.replace(config.flux, guidance=8.0))
    a, b = (np.asarray(p.paint(["a red ball"], [7])[0], dtype=float) for p in (low, high))
    again = np.asarray(low.paint(["a red ball"], [7])[0], dtype=float)
    assert np.array_equal(a, again) and np.abs(a - b).max() > 0


def test_evaluate_reads_the_set_unchanged(baseline, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("evaluate:\n  runtime: {workers: 0, batch_size: 8}\n  stats: {n_bins: 2, n_boot: 50}\n")
    out = tmp_path / "eval"
    args = ["--model", "compclip-tiny-rn", "--zeroshot", str(baseline[0]), "--out", str(out)]
    assert main(["evaluate", *args, "--params", str(params), "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["zeroshot/genpairs/n"] == baseline[1]["n"] and "zeroshot/genpairs/pearson_r" in metrics
