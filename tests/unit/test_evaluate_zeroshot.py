"""Zero-shot evaluation and benchmark scoring with a tiny random-weight model in-process."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from compclip.errors import UserError
from compclip.evalsets.generated import write_evalset as write_generated
from compclip.evaluate.benchmarks.common import Item
from compclip.evaluate.benchmarks.score import score_items, subset_metrics
from compclip.evaluate.encode import Encoder, ImageRef, RuntimeConfig
from compclip.evaluate.stats import StatsConfig
from compclip.evaluate.zeroshot import class_weights, default_templates, evaluate_zeroshot, load_evalset
from compclip.models import create_model
from compclip.rejects import Rejects
from compclip.shards import read_index

CLASSES = ["cube", "sphere", "cone"]


@pytest.fixture(scope="module")
def encoder():
    torch.set_num_threads(1)
    return Encoder(create_model("compclip-tiny-rn"), RuntimeConfig(device="cpu", batch_size=8, workers=0))


def write_evalset(folder, n=24, templates=None, corrupt=(), missing=()):
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = {"id": [], "image": [], "label": [], "accessory": [], "pmi": [], "stratum": []}
    for i in range(n):
        name = f"images/{i}.png"
        if i in corrupt:
            (folder / name).write_bytes(b"broken")
        elif i not in missing:
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / name)
        rows["id"].append(f"item{i}")
        rows["image"].append(name)
        rows["label"].append(CLASSES[i % 3])
        rows["accessory"].append(None if i < 4 else CLASSES[(i + 1) % 3])
        rows["pmi"].append(None if i < 4 else (-np.inf if i < 8 else float(i)))
        rows["stratum"].append(None if i < 4 else i % 2)
    pq.write_table(pa.table(rows), folder / "items.parquet")
    header = {"kind": "zeroshot", "name": "toy", "classes": CLASSES}
    if templates:
        header["templates"] = templates
    (folder / "evalset.json").write_text(json.dumps(header))
    return folder


def test_classifier_is_normalised_template_mean(encoder):
    templates = ("a photo of a {}.", "a {}.")
    weights = class_weights(encoder, ("cube", "cone"), templates)
    texts = encoder.texts(["a photo of a cube.", "a cube."])
    expected = texts.mean(axis=0) / np.linalg.norm(texts.mean(axis=0))
    assert np.allclose(weights[0], expected, atol=1e-5)
    assert np.allclose(np.linalg.norm(weights, axis=1), 1.0, atol=1e-5)


def test_texts_are_embedded_once_per_unique_string(encoder, monkeypatch):
    calls = []
    original = encoder.tokenizer
    monkeypatch.setattr(encoder, "tokenizer", lambda texts: calls.append(list(texts)) or original(texts))
    out = encoder.texts(["a", "b", "a", "a"])
    assert calls == [["a", "b"]] and np.array_equal(out[0], out[2]) and out.shape[0] == 4


def test_zeroshot_metrics_rejects_and_results(encoder, tmp_path):
    evalset = load_evalset(write_evalset(tmp_path / "set", corrupt={9}, missing={10}))
    assert evalset.templates == default_templates()
    rejects = Rejects()
    result = evaluate_zeroshot(encoder, evalset, rejects, StatsConfig(n_bins=4, n_boot=50))
    assert rejects.as_dict() == {"corrupt_image": 1, "missing_image": 1}
    assert result.n_seen == 24 and len(result.results) == 22
    m = result.metrics
    assert m["n"] == 22 and m["n_pmi"] == 18 and m["never_together/n"] == 4 and m["single_object/n"] == 4
    correct = np.asarray(result.results.column("correct").to_pylist())
    assert m["acc"] == pytest.approx(correct.mean())
    assert {"stratum/0/acc", "stratum/1/acc", "pearson_r", "spearman_r", "gap", "gap_ci_low"} <= set(m)
    # 14 finite-PMI items in 4 bins; the 4 never-together items are a row of their own
    assert result.bins is not None and result.bins.count.tolist() == [4, 4, 3, 3]
    assert result.bins.never.count == 4 and np.isfinite(result.bins.pmi_min).all() and m["n_tail"] == 1
    tail = result.results.column("pmi_tail").to_pylist()
    pmi = result.results.column("pmi").to_pylist()
    assert [pmi[i] for i, t in enumerate(tail) if t == "low"] == [-np.inf]
    assert [pmi[i] for i, t in enumerate(tail) if t == "high"] == [23.0] and tail.count(None) == 20


def test_evalset_templates_override_and_bad_headers(encoder, tmp_path):
    evalset = load_evalset(write_evalset(tmp_path / "a", templates=["a drawing of a {}."]))
    assert evalset.templates == ("a drawing of a {}.",)
    (tmp_path / "a" / "evalset.json").write_text(
        json.dumps({"kind": "zeroshot", "classes": CLASSES, "templates": ["no slot"]})
    )
    with pytest.raises(UserError, match="templates"):
        load_evalset(tmp_path / "a")
    with pytest.raises(UserError, match="not a zero-shot eval set"):
        load_evalset(tmp_path)


def test_an_empty_evalset_is_refused(tmp_path):
    write_evalset(tmp_path / "set", n=0)
    with pytest.raises(UserError, match="empty eval set"):
        load_evalset(tmp_path / "set")


def test_nothing_usable_is_one_clear_error(encoder, tmp_path):
    evalset = load_evalset(write_evalset(tmp_path / "set", n=3, corrupt={0, 1, 2}))
    with pytest.raises(UserError, match="no usable items"):
        evaluate_zeroshot(encoder, evalset, Rejects(), StatsConfig())


def test_benchmark_scoring_positive_must_beat_every_negative(encoder, tmp_path):
    Image.new("RGB", (32, 32), (10, 200, 10)).save(tmp_path / "g.png")
    image = ImageRef(str(tmp_path / "g.png"))
    texts = ["a green square", "a red circle", "a blue cone"]
    emb = encoder.images([image], Rejects())[0][0]
    scores = encoder.texts(texts) @ emb
    best, worst = texts[int(scores.argmax())], texts[int(scores.argmin())]
    others = [t for t in texts if t not in (best, worst)]
    items = [
        Item("1", "s1", image, best, (worst, *others), "g1"),
        Item("2", "s1", image, worst, (best,), "g2"),
        Item("3", "s2", ImageRef(str(tmp_path / "missing.png")), best, (worst,)),
    ]
    rejects = Rejects()
    results = score_items(encoder, items, rejects, "toy", tmp_path)
    assert results.column("correct").to_pylist() == [True, False]
    assert rejects.as_dict() == {"missing_image": 1}
    metrics = subset_metrics(results)
    assert metrics == {"s1/acc": 0.5, "s1/n": 2, "s1/macro_acc": 0.5}


def test_an_edited_set_reports_the_accuracy_drop_against_its_unedited_images(encoder, tmp_path):
    """ImageNet-paste's metric: each item's unedited image (``clean_image``) classified too; the drop
    is clean minus edited accuracy over the items with both, overall and per PMI stratum."""
    folder = write_evalset(tmp_path / "set")
    table = pq.read_table(folder / "items.parquet")
    rng = np.random.default_rng(1)
    clean = []
    for i in range(table.num_rows):
        name = f"images/clean-{i}.png"
        if i != 5:  # one item without its unedited image
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / name)
        clean.append(name if i != 6 else None)  # and one that names none
    pq.write_table(table.append_column("clean_image", pa.array(clean)), folder / "items.parquet")
    rejects = Rejects()
    result = evaluate_zeroshot(encoder, load_evalset(folder), rejects, StatsConfig(n_bins=4, n_boot=50))
    assert rejects.as_dict() == {"missing_image": 1}
    rows = result.results.to_pylist()
    judged = [r for r in rows if r["clean_correct"] is not None]
    assert len(judged) == len(rows) - 2
    m = result.metrics
    assert m["clean/acc"] == pytest.approx(np.mean([r["clean_correct"] for r in judged]))
    assert m["clean/drop"] == pytest.approx(m["clean/acc"] - np.mean([r["correct"] for r in judged]))
    for stratum in (0, 1):
        mine = [r for r in judged if r["stratum"] == stratum]
        drop = np.mean([r["clean_correct"] for r in mine]) - np.mean([r["correct"] for r in mine])
        assert m[f"stratum/{stratum}/drop"] == pytest.approx(drop)
    plain = evaluate_zeroshot(
        encoder, load_evalset(write_evalset(tmp_path / "plain")), Rejects(), StatsConfig(n_bins=4, n_boot=50)
    )
    assert not any(k.startswith("clean/") or k.endswith("/drop") for k in plain.metrics)


def test_a_generated_set_in_shards_evaluates_as_its_folder_of_images_did(encoder, tmp_path, caplog):
    """GenPairs and ImageNet-paste write their sets' images (edited and unedited) into shards; the set
    scores exactly as the same set in the older layout (a file an image), and a shard cut short is a
    counted reject of every image from the cut, with one log line naming the shard and the first."""
    folder = write_evalset(tmp_path / "files")
    table = pq.read_table(folder / "items.parquet")
    rng = np.random.default_rng(1)
    for i in range(table.num_rows):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
            folder / f"images/clean-{i}.png"
        )
    clean = [f"images/clean-{i}.png" if i != 6 else None for i in range(table.num_rows)]
    table = table.append_column("clean_image", pa.array(clean))
    pq.write_table(table, folder / "items.parquet")
    header = json.loads((folder / "evalset.json").read_text())
    write_generated(str(tmp_path / "shards"), table.to_pylist(), table.schema, folder / "images", header, {})
    sharded = pq.read_table(tmp_path / "shards" / "items.parquet")
    assert sharded.column("image").to_pylist()[:2] == ["0.png", "1.png"]
    assert set(sharded.column("shard").to_pylist()) == {"shards/000000.tar"}
    assert sharded.column("clean_shard").to_pylist()[6] is None and not (tmp_path / "shards/images").exists()
    stats = StatsConfig(n_bins=4, n_boot=50)
    before = evaluate_zeroshot(encoder, load_evalset(folder), Rejects(), stats)
    after = evaluate_zeroshot(encoder, load_evalset(tmp_path / "shards"), rejects := Rejects(), stats)
    assert not rejects.total and after.metrics == before.metrics
    for column in ("id", "correct", "clean_correct"):
        assert after.results.column(column).to_pylist() == before.results.column(column).to_pylist()
    tar = tmp_path / "shards/shards/000000.tar"
    offset, _ = read_index(str(tar))["20.png"]
    tar.write_bytes(tar.read_bytes()[:offset])  # items 20-23 are lost (and their unedited images)
    cut = evaluate_zeroshot(encoder, load_evalset(tmp_path / "shards"), rejects := Rejects(), stats)
    assert rejects.as_dict() == {"shard truncated": 4} and cut.metrics["n"] == 20
    assert "shards/000000.tar: shard truncated (4 images, first 20.png)" in caplog.text
