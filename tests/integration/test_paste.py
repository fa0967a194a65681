"""ImageNet-paste end to end: accessories from a folder or painted by a tiny FLUX pipeline."""

from __future__ import annotations

import dataclasses
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.chunks import Shard
from compclip.cli import main
from compclip.dataset import read_image
from compclip.errors import UserError
from compclip.evalsets.generated import merge_evalsets
from compclip.evaluate.zeroshot import load_evalset
from compclip.genpairs.images import FluxConfig, FluxPainter
from compclip.genpairs.vocabulary import CandidateRules
from compclip.paste.run import PasteConfig, paint_accessories, paste_set
from compclip.storage import read_bytes

pytestmark = pytest.mark.integration
PER_CLASS = 4
RULES = CandidateRules(min_count=1, adjectives=False)


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    """Class folders of JPEGs; one folder's class is outside the PMI vocabulary."""
    root = tmp_path_factory.mktemp("imagenet")
    for c, folder in enumerate(["goldfish", "tabby_cat", "lemon", "zebra_crossing"]):
        (root / folder).mkdir()
        for i in range(PER_CLASS):
            Image.new("RGB", (48, 40), (30 * c, 20 * i, 90)).save(root / folder / f"img{i}.JPEG", "JPEG")
    (root / "lemon" / "broken.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def cutouts(tmp_path_factory):
    """Accessories on white, one with an alpha channel, one outside the vocabulary."""
    root = tmp_path_factory.mktemp("accessories")
    for k, name in enumerate(["ball", "tree", "box", "table", "street", "qqqq"]):
        image = np.full((20, 30, 3), 255, np.uint8)
        image[4:16, 5 + k : 25] = (200, 40 * k, 10)
        Image.fromarray(image).save(root / f"{name}.png")
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 2:8] = (0, 200, 0, 255)
    Image.fromarray(rgba, "RGBA").save(root / "water.png")
    return root


def test_folder_accessories_spread_each_class_over_strata(imagenet, cutouts, pmi_table, tmp_path):
    config = PasteConfig(n_strata=3, chunk=3, max_reject_share=0.2)
    out = tmp_path / "paste"
    metrics = paste_set(imagenet, pmi_table, out, config, accessories=str(cutouts))
    items = pq.read_table(out / "items.parquet").to_pylist()
    header = json.loads((out / "evalset.json").read_text())
    assert metrics["base_images"] == 3 * PER_CLASS + 1 and metrics["rejects/unreadable_image"] == 1
    assert len(items) == metrics["n"] == 3 * PER_CLASS
    assert header["selection"]["rejects"] == {
        "accessory_not_in_pmi_vocabulary": 1,
        "class_not_in_pmi_vocabulary": 1,
    }
    assert set(header["classes"]) == {"goldfish", "tabby cat", "lemon", "zebra crossing"}
    strata = defaultdict(set)
    for item in items:
        strata[item["label"]].add(item["stratum"])
        image = np.asarray(Image.open(io.BytesIO(read_image(str(out), item))))
        assert image.shape == (40, 48, 3) and item["accessory"] in {
            "ball",
            "tree",
            "box",
            "table",
            "street",
            "water",
        }
        assert abs(item["width"] * item["height"] - 0.1 * 48 * 40) <= item["width"] + item["height"] + 1
        # the unedited image travels with the set, as it was, for the accuracy drop
        clean = read_image(str(out), {"image": item["clean_image"], "shard": item["clean_shard"]})
        assert clean == Path(item["base_image"]).read_bytes()
    assert len(strata) == 3 and all(len(s) >= 3 for s in strata.values())  # 4 images over >= 3 strata
    assert len(load_evalset(out).items) == len(items)


def test_painted_accessories_resume_after_a_kill_and_match_one_run(imagenet, pmi_table, tiny_flux, tmp_path):
    flux = FluxConfig(
        model=str(tiny_flux), size=32, steps=2, max_sequence_length=16, dtype="float32", device="cpu"
    )
    config = PasteConfig(n_strata=3, chunk=4, candidates=RULES, max_reject_share=0.2, flux=flux)
    one = paste_set(imagenet, pmi_table, tmp_path / "one", config)
    calls = []

    def stop_after_one(index):
        calls.append(index)
        raise Stop

    with pytest.raises(Stop):
        paste_set(
            imagenet, pmi_table, tmp_path / "two", config, work_dir=tmp_path / "w", after_chunk=stop_after_one
        )
    again = paste_set(imagenet, pmi_table, tmp_path / "two", config, work_dir=tmp_path / "w")
    assert again["chunks_resumed"] == 1 and again["n"] == one["n"] > 0
    first, second = (pq.read_table(tmp_path / name / "items.parquet").to_pylist() for name in ("one", "two"))
    assert first == second
    for name in ("shards/000000.tar", "shards/000000.json"):  # the same images, packed the same
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def assert_same_set(merged, one):
    """The same items and image bytes (edited and unedited); only the shard numbers may differ (a
    merge gives each part's image shards the numbers after the previous parts')."""
    tables = [
        sorted(pq.read_table(f / "items.parquet").to_pylist(), key=lambda r: r["id"]) for f in (merged, one)
    ]
    shards = ("shard", "clean_shard")
    assert [[{k: v for k, v in r.items() if k not in shards} for r in t] for t in tables] == [
        [{k: v for k, v in r.items() if k not in shards} for r in tables[1]]
    ] * 2
    for row, other in zip(*tables, strict=True):
        for image, shard in (("image", "shard"), ("clean_image", "clean_shard")):
            assert read_image(str(merged), {"image": row[image], "shard": row[shard]}) == read_image(
                str(one), {"image": other[image], "shard": other[shard]}
            )


def test_cli_shards_and_merge(imagenet, cutouts, pmi_table, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        json.dumps({"paste": dataclasses.asdict(PasteConfig(n_strata=3, chunk=2, max_reject_share=0.5))})
    )
    common = [
        "--images",
        str(imagenet),
        "--pmi",
        str(pmi_table),
        "--accessories",
        str(cutouts),
        "--params",
        str(params),
    ]
    parts = [str(tmp_path / f"s{i}") for i in range(3)]
    for i, part in enumerate(parts):
        assert main(["paste", "run", *common, "--out", part, "--shard", f"{i}/3"]) == 0
    assert main(["paste", "run", *common, "--out", str(tmp_path / "one")]) == 0
    assert main(["paste", "merge", *parts, "--out", str(tmp_path / "merged")]) == 0
    assert_same_set(tmp_path / "merged", tmp_path / "one")
    assert len(set(pq.read_table(tmp_path / "merged" / "items.parquet").column("shard").to_pylist())) == 3
    assert main(["paste", "run", *common, "--out", part, "--shard", "3/3"]) == 2


def test_images_and_outputs_on_s3(imagenet, cutouts, pmi_table, s3_server, tmp_path):
    import fsspec

    fs = fsspec.filesystem("s3")
    root = f"s3://{s3_server.bucket}/paste-test"
    fs.put(str(imagenet) + "/", f"{root}/imagenet/", recursive=True)
    fs.put(str(cutouts) + "/", f"{root}/cutouts/", recursive=True)
    config = PasteConfig(n_strata=3, chunk=5, max_reject_share=0.5)
    shards = [f"{root}/shards/{i}" for i in range(2)]
    for i, out in enumerate(shards):
        images, accessories = f"{root}/imagenet", f"{root}/cutouts"
        paste_set(images, pmi_table, out, config, accessories, shard=Shard(i, 2), work_dir=tmp_path / f"w{i}")
    assert main(["paste", "merge", *shards, "--out", f"{root}/merged"]) == 0
    local = paste_set(imagenet, pmi_table, tmp_path / "local", config, accessories=str(cutouts))
    fs.invalidate_cache()
    items = pq.read_table(io.BytesIO(read_bytes(f"{root}/merged/items.parquet"))).to_pylist()
    assert len(items) == local["n"] and items[0]["base_image"].startswith(f"{root}/imagenet/")
    mine = {r["id"]: r for r in pq.read_table(tmp_path / "local" / "items.parquet").to_pylist()}
    assert read_image(f"{root}/merged", items[0]) == read_image(str(tmp_path / "local"), mine[items[0]["id"]])


def test_shards_share_one_accessory_cache_on_s3_painted_once(
    imagenet, pmi_table, tiny_flux, s3_server, tmp_path
):
    flux = FluxConfig(
        model=str(tiny_flux), size=32, steps=2, max_sequence_length=16, dtype="float32", device="cpu"
    )
    config = PasteConfig(n_strata=3, chunk=3, candidates=RULES, max_reject_share=0.5, flux=flux)
    painter, prompts = FluxPainter.load(flux), []

    class Counting:
        def paint(self, texts, seeds):
            prompts.extend(texts)
            return painter.paint(texts, seeds)

    def forbidden():
        raise AssertionError("a shard loaded FLUX although the cache holds every accessory")

    cache = f"s3://{s3_server.bucket}/paste-cache"
    counts = paint_accessories(imagenet, pmi_table, cache, config, painter=Counting)
    assert counts["painted"] == counts["accessories"] == len(prompts) == len(set(prompts)) > 0
    assert prompts[0].startswith("a ") and prompts[0].endswith(" in the center of a white background")
    assert paint_accessories(imagenet, pmi_table, cache, config, painter=forbidden)["painted"] == 0
    shared = dataclasses.replace(config, accessory_cache=cache)
    parts = [str(tmp_path / f"s{i}") for i in range(3)]
    for i, part in enumerate(parts):
        paste_set(imagenet, pmi_table, part, shared, shard=Shard(i, 3), painter=forbidden)
    merge_evalsets(parts, str(tmp_path / "merged"))
    paste_set(imagenet, pmi_table, tmp_path / "one", config, painter=lambda: painter)  # its own cache
    assert_same_set(tmp_path / "merged", tmp_path / "one")
    other = dataclasses.replace(config, seed=1)
    with pytest.raises(UserError, match="other settings"):
        paint_accessories(imagenet, pmi_table, cache, other, painter=forbidden)


def test_no_accessory_is_a_word_of_a_class_name(imagenet, cutouts, pmi_table, tmp_path):
    """An accessory that names part of a class (here 'cat' beside 'tabby cat') is left out."""
    folder = tmp_path / "accessories"
    folder.mkdir()
    for path in cutouts.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "cat.png").write_bytes((cutouts / "ball.png").read_bytes())
    out = tmp_path / "paste"
    paste_set(
        imagenet, pmi_table, out, PasteConfig(n_strata=3, max_reject_share=0.2), accessories=str(folder)
    )
    header = json.loads((out / "evalset.json").read_text())
    assert header["selection"]["rejects"]["accessory_is_class_word"] == 1
    assert "cat" not in {r["accessory"] for r in pq.read_table(out / "items.parquet").to_pylist()}
    painted = PasteConfig(n_strata=3, candidates=RULES, max_reject_share=0.2)
    paste_set(imagenet, pmi_table, tmp_path / "flux", painted, painter=lambda: _white_squares())
    used = {r["accessory"] for r in pq.read_table(tmp_path / "flux" / "items.parquet").to_pylist()}
    assert used and not used & {"goldfish", "tabby", "cat", "lemon", "zebra", "crossing"}


def _white_squares():
    class Squares:
        def paint(self, texts, seeds):
            image = np.full((16, 16, 3), 255, np.uint8)
            image[4:12, 4:12] = (200, 30, 30)
            return [Image.fromarray(image) for _ in texts]

    return Squares()
