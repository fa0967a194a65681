"""GenPairs end to end with a tiny random Llama and a tiny FLUX pipeline loaded from folders."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from compclip.chunks import Shard
from compclip.cli import main
from compclip.dataset import read_image
from compclip.errors import UserError
from compclip.evalsets.generated import merge_evalsets
from compclip.genpairs.captions import (
    CaptionConfig,
    LLMCaptioner,
    caption_problem,
    caption_stage,
    class_heads,
)
from compclip.genpairs.images import FluxConfig, FluxPainter, ImagesConfig, image_seed, image_stage
from compclip.genpairs.pairs import Pair, SelectConfig, read_pairs, select_stage
from compclip.genpairs.run import GenPairsConfig, genpairs
from compclip.genpairs.vocabulary import CandidateRules
from compclip.pmi import PMITable

pytestmark = pytest.mark.integration


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_llm, tiny_flux, tiny_classes):
    classes = tmp_path_factory.mktemp("classes") / "classes.txt"
    classes.write_text("# test classes\n" + "\n".join(tiny_classes) + "\n")
    return GenPairsConfig(
        select=SelectConfig(classes=str(classes), n_strata=3, per_stratum=2,
                            candidates=CandidateRules(min_count=1)),
        captions=CaptionConfig(model=str(tiny_llm), batch_size=3, samples=16, max_new_tokens=24,
                               temperature=1.5, min_p=None, chunk=3, max_reject_share=1.0, dtype="float32",
                               device="cpu"),
        images=ImagesConfig(images_per_caption=2, chunk=2, flux=FluxConfig(
            model=str(tiny_flux), size=32, steps=2, max_sequence_length=16, batch_size=6, dtype="float32",
            device="cpu")),
    )  # fmt: skip


@pytest.fixture(scope="module")
def models(config):
    """The models loaded once by the real loaders, handed to the runs that follow."""
    captioner, painter = LLMCaptioner.load(config.captions, 0), FluxPainter.load(config.images.flux)
    return {"captioner": lambda: captioner, "painter": lambda: painter}


@pytest.fixture(scope="module")
def baseline(pmi_table, config, models, tmp_path_factory):
    out = tmp_path_factory.mktemp("baseline") / "gp"
    return out, genpairs(str(pmi_table), str(out), config, **models)


def read(folder):
    """The set's items by id (without the shard that holds each image: a merge renumbers them), its
    images' bytes and its header."""
    items = sorted(pq.read_table(folder / "items.parquet").to_pylist(), key=lambda r: r["id"])
    images = {r["id"]: read_image(str(folder), r) for r in items}
    return (
        [{k: v for k, v in r.items() if k != "shard"} for r in items],
        images,
        json.loads((folder / "evalset.json").read_text()),
    )


def test_the_three_phases_by_cli_write_a_zeroshot_set_of_captioned_pairs(pmi_table, config, tiny_classes,
                                                                           tmp_path):  # fmt: skip
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"genpairs": dataclasses.asdict(config)}))
    pairs, captions, out = tmp_path / "pairs.parquet", tmp_path / "captions.parquet", tmp_path / "gp"
    p = ["--params", str(params)]
    assert main(["genpairs", "pairs", "--pmi", str(pmi_table), "--out", str(pairs), *p]) == 0
    assert main(["genpairs", "captions", "--pairs", str(pairs), "--out", str(captions), *p]) == 0
    assert main(["genpairs", "images", "--captions", str(captions), "--out", str(out), *p]) == 0
    items, images, header = read(out)
    metrics = json.loads((out / "metrics.json").read_text())
    table = PMITable.load(pmi_table)
    heads = class_heads(tiny_classes, table)
    assert header["kind"] == "zeroshot" and header["classes"] == tiny_classes and header["n"] == len(items)
    assert metrics["pairs"] == header["selection"]["pairs"] == 2 * len(header["strata"])
    assert metrics["pairs_captioned"] + metrics["rejects/pair_without_caption"] == metrics["pairs"]
    assert metrics["pairs_captioned"] > 0 and len(items) == 2 * metrics["pairs_captioned"]
    assert header["generator"]["images"]["flux"]["guidance"] == 5.0
    assert header["generator"]["captions"]["temperature"] == 1.5
    strata = {s["stratum"] for s in header["strata"]}
    for item in items:
        pair = Pair(item["pair_id"], item["label"], item["accessory"], item["pmi"], item["stratum"])
        assert caption_problem(item["caption"], pair, table, heads) is None
        assert item["seed"] == image_seed(0, item["pair_id"], int(item["id"][-1]))
        assert item["stratum"] in strata and item["label"] in tiny_classes
        assert images[item["id"]][:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / ".gp.genpairs-images-work").exists()
    assert not (tmp_path / ".captions.parquet.genpairs-captions-work").exists()


def test_the_phases_equal_one_run(pmi_table, config, models, baseline, tmp_path):
    pairs, captions = str(tmp_path / "pairs.parquet"), str(tmp_path / "captions.parquet")
    select_stage(pmi_table, pairs, config.select)
    caption_stage(pairs, captions, config.captions, captioner=models["captioner"])
    _, table, header = read_pairs(captions)
    assert table.column_names[-1] == "caption" and header["captions"]["metrics"]["pairs"] == table.num_rows
    image_stage(captions, str(tmp_path / "gp"), config.images, painter=models["painter"])
    assert read(tmp_path / "gp") == read(baseline[0])


def test_a_killed_run_resumes_without_repeats_or_losses(pmi_table, config, models, baseline, tmp_path):
    """Killed twice (in the caption phase, then wherever two more chunks end), every chunk of either
    phase is done exactly once and the set equals one uninterrupted run."""
    out, work = str(tmp_path / "gp"), tmp_path / "work"
    done: list[int] = []

    def stop_after(n):
        def callback(index):
            done.append(index)
            if len(done) == n:
                raise Stop

        return callback

    for n in (2, 4):
        with pytest.raises(Stop):
            genpairs(pmi_table, out, config, work_dir=work, after_chunk=stop_after(n), **models)
        assert not (tmp_path / "gp").exists()
    metrics = genpairs(pmi_table, out, config, work_dir=work, after_chunk=done.append, **models)
    caption_chunks = -(-baseline[1]["pairs"] // config.captions.chunk)
    assert len(done) == caption_chunks + metrics["chunks"] and not (work / "genpairs").exists()
    assert read(tmp_path / "gp") == read(baseline[0])
    assert {k: v for k, v in metrics.items() if k != "chunks_resumed"} == {
        k: v for k, v in baseline[1].items() if k != "chunks_resumed"
    }


def test_image_shards_merge_into_the_one_run_set(pmi_table, config, models, baseline, tmp_path):
    pairs, captions = str(tmp_path / "pairs.parquet"), str(tmp_path / "captions.parquet")
    select_stage(pmi_table, pairs, config.select)
    caption_stage(pairs, captions, config.captions, captioner=models["captioner"])
    parts = [str(tmp_path / f"shard{i}") for i in range(2)]
    for i, part in enumerate(parts):
        image_stage(captions, part, config.images, shard=Shard(i, 2), painter=models["painter"])
    assert main(["genpairs", "merge", *parts, "--out", str(tmp_path / "gp")]) == 0
    merged, reference = read(tmp_path / "gp"), read(baseline[0])
    assert merged[:2] == reference[:2]
    assert merged[2]["shards"] == 2 and "shard" not in merged[2]
    assert {k: v for k, v in merged[2].items() if k != "shards"} == {
        k: v for k, v in reference[2].items() if k != "shard"
    }
    merged_metrics = json.loads((tmp_path / "gp" / "metrics.json").read_text())
    assert {k: v for k, v in merged_metrics.items() if k != "chunks_resumed"} == {
        k: v for k, v in baseline[1].items() if k != "chunks_resumed"
    }
    full = next(p for p in parts if json.loads((tmp_path / p / "evalset.json").read_text())["n"])
    with pytest.raises(UserError, match="more than one shard"):
        merge_evalsets([full, full], str(tmp_path / "twice"))


def test_a_work_folder_of_another_run_is_refused(pmi_table, config, models, tmp_path):
    work = tmp_path / "work"
    with pytest.raises(Stop):
        genpairs(pmi_table, str(tmp_path / "a"), config, work_dir=work, after_chunk=_raise, **models)
    other = dataclasses.replace(config, select=dataclasses.replace(config.select, seed=1))
    with pytest.raises(UserError, match="another run"):
        genpairs(pmi_table, str(tmp_path / "a"), other, work_dir=work, **models)


def _raise(index):
    raise Stop


def test_guidance_and_steps_reach_the_pipeline(config):
    flux = config.images.flux
    low = FluxPainter.load(dataclasses.replace(flux, guidance=1.0))
    high = FluxPainter.load(dataclasses.replace(flux, guidance=8.0))
    a, b = (np.asarray(p.paint(["a red ball"], [7])[0], dtype=float) for p in (low, high))
    again = np.asarray(low.paint(["a red ball"], [7])[0], dtype=float)
    assert np.array_equal(a, again) and np.abs(a - b).max() > 0
    more = FluxPainter(low.pipeline, dataclasses.replace(flux, guidance=1.0, steps=3))
    assert np.abs(np.asarray(more.paint(["a red ball"], [7])[0], dtype=float) - a).max() > 0
    # no step count given: the guidance-distilled model's 28 (FLUX.1-dev), 4 without guidance (schnell)
    assert FluxPainter(low.pipeline, dataclasses.replace(flux, steps=None)).config.steps == 28
    low.pipeline.transformer.config.guidance_embeds = False
    try:
        assert FluxPainter(low.pipeline, dataclasses.replace(flux, steps=None)).config.steps == 4
    finally:
        low.pipeline.transformer.config.guidance_embeds = True


def test_offloading_paints_the_same_images(config):
    flux = config.images.flux
    resident, offloaded = (FluxPainter.load(dataclasses.replace(flux, offload=o)) for o in (False, True))
    a, b = (np.asarray(p.paint(["a red ball"], [3])[0]) for p in (resident, offloaded))
    assert np.array_equal(a, b)


def test_evaluate_reads_the_set_unchanged(baseline, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("evaluate:\n  runtime: {workers: 0, batch_size: 8}\n  stats: {n_bins: 2, n_boot: 50}\n")
    out = tmp_path / "eval"
    args = ["--model", "compclip-tiny-rn", "--zeroshot", str(baseline[0]), "--out", str(out)]
    assert main(["evaluate", *args, "--params", str(params), "--device", "cpu"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["zeroshot/genpairs/n"] == baseline[1]["n"] and "zeroshot/genpairs/pearson_r" in metrics


def test_the_loaders_honour_the_dtype(config, tiny_llm):
    """``dtype=`` reaches diffusers and transformers (pyproject's floors are the first versions that
    read it: an older diffusers would load FLUX in fp32 and say nothing)."""
    import torch

    from compclip.negatives.llm import load_causal_lm

    painter = FluxPainter.load(dataclasses.replace(config.images.flux, dtype="bfloat16"))
    assert painter.pipeline.transformer.dtype == painter.pipeline.text_encoder_2.dtype == torch.bfloat16
    model, _ = load_causal_lm(str(tiny_llm), "bfloat16", "cpu")
    assert model.dtype == torch.bfloat16
