"""``compclip vqa-pmi`` end to end: a tiny random LLaVA answers, predictions resume, analysis and report."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.chunks import Shard
from compclip.cli import main
from compclip.vqa.llava import LlavaAnswerer, LlavaConfig
from compclip.vqa.run import VqaConfig, predict

pytestmark = pytest.mark.integration
QUESTIONS = [  # (question, answer): words of the small PMI table's corpus
    ("is the goldfish near the ball", "yes"), ("is the lemon on the table", "yes"),
    ("is the car red", "no"), ("what is near the tree", "ball"), ("is the tabby cat on the grass", "yes"),
    ("what is in the water", "goldfish"), ("is the lemon near the street", "yes"), ("what", "no"),
]  # fmt: skip


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def vqav2(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqav2")
    (root / "images").mkdir()
    questions, notes = [], []
    for i, (question, answer) in enumerate(QUESTIONS):
        Image.new("RGB", (40, 30), (30 * i, 80, 120)).save(root / "images" / f"COCO_val2014_{i:012d}.jpg")
        questions.append({"question_id": 100 + i, "image_id": i, "question": question})
        notes.append(
            {"question_id": 100 + i, "answers": [{"answer": answer}] * 8 + [{"answer": "maybe"}] * 2}
        )
    (root / "q.json").write_text(json.dumps({"questions": questions}))
    (root / "a.json").write_text(json.dumps({"annotations": notes}))
    return root


@pytest.fixture(scope="module")
def config(tiny_llava):
    return VqaConfig(chunk=3, llava=LlavaConfig(model=str(tiny_llava), batch_size=2, max_new_tokens=4,
                                                dtype="float32", device="cpu"))  # fmt: skip


def lines(folder):
    return (folder / "predictions.jsonl").read_text().splitlines()


def test_predictions_resume_after_a_kill_and_shards_add_up(vqav2, config, tmp_path):
    model = LlavaAnswerer.load(config.llava, str(vqav2 / "images"), "vqav2")
    args = (str(vqav2 / "q.json"), str(vqav2 / "a.json"), str(vqav2 / "images"))
    predict(*args, str(tmp_path / "one"), config)  # loads the model itself
    one = lines(tmp_path / "one")
    assert len(one) == len(QUESTIONS)
    first = json.loads(one[0])
    assert first["question_id"] == "100" and first["prompt"].startswith("is the goldfish")
    assert first["prompt"].endswith("\nAnswer the question using a single word or phrase.")

    def stop(index):
        raise Stop

    with pytest.raises(Stop):
        predict(*args, str(tmp_path / "two"), config, work_dir=tmp_path / "w", answerer=lambda d: model,
                after_chunk=stop)  # fmt: skip
    metrics = predict(*args, str(tmp_path / "two"), config, work_dir=tmp_path / "w", answerer=lambda d: model)
    assert metrics["chunks_resumed"] == 1 and lines(tmp_path / "two") == one
    parts = []
    for i in range(2):
        predict(*args, str(tmp_path / f"s{i}"), config, shard=Shard(i, 2), answerer=lambda d: model)
        parts += lines(tmp_path / f"s{i}")
    assert sorted(parts) == sorted(one)


def test_cli_analyze_writes_metrics_bins_and_report(vqav2, pmi_table, tmp_path):
    answers = ["yes", "no", "no", "ball", "yes", "goldfish", "yes", "no"]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(
        "".join(json.dumps({"question_id": 100 + i, "text": a}) + "\n" for i, a in enumerate(answers))
    )
    params = tmp_path / "params.yaml"
    params.write_text("vqa_pmi:\n  stats: {n_bins: 2, n_boot: 50}\n")
    out = tmp_path / "out"
    inputs = [
        "--questions",
        vqav2 / "q.json",
        "--annotations",
        vqav2 / "a.json",
        "--predictions",
        predictions,
    ]
    outputs = ["--pmi", pmi_table, "--out", out, "--params", params]
    assert main(["vqa-pmi", "analyze", *map(str, inputs + outputs)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = pq.read_table(out / "questions.parquet").to_pylist()
    assert (
        metrics["questions"] == len(QUESTIONS) and metrics["skipped/fewer_than_two_concepts"] == 1
    )  # "what"/"no"
    assert metrics["n"] == len(rows) == len(QUESTIONS) - 1 and metrics["n_bins"] == 2
    assert metrics["acc"] == pytest.approx(sum(r["accuracy"] for r in rows) / len(rows))
    assert metrics["yes_bias/n"] == 4 and metrics["yes_bias/share_yes"] == 0.75
    assert set(json.loads((out / "bins.json").read_text())) == {"accuracy", "yes_bias"}
    html = (out / "report.html").read_text()
    assert "compclip vqa-pmi: vqav2" in html and html.count("data:image/png;base64,") == 2
