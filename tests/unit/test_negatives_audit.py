"""`compclip negatives audit`: per type yield, blind-model preference, WordNet-related share, a sample."""

from __future__ import annotations

import json

import pytest

from compclip.cli import main
from compclip.negatives.audit import AuditConfig, audit
from compclip.negatives.blind import BlindModel

RECORDS = [
    {
        "image_id": "1",
        "original": "A small dog is running on the grass.",
        "enhanced": [
            "A tiny dog is running on the grass.",
            "A small cat is running on the grass.",
            "A grass is running on the small dog.",
        ],
        "types": ["replace_adjectives", "replace_nouns", "swap_nouns"],
    },
    {
        "image_id": "2",
        "original": "An airplane flying over a <city>.",
        "enhanced": ["A jet flying over a <city>.", "A city flying over an airplane."],
        "types": ["replace_nouns", "swap_nouns"],
    },
    {  # another image with the same caption (COCO-style): a caption of its own
        "image_id": "3",
        "original": "A small dog is running on the grass.",
        "enhanced": ["A small grass is running on the dog."],
        "types": ["swap_nouns"],
    },
]


@pytest.fixture
def files(tmp_path, flickr_captions):
    folder = tmp_path / "neg"
    folder.mkdir()
    (folder / "negatives.json").write_text(json.dumps(RECORDS))
    (folder / "metrics.json").write_text(json.dumps({"n_captions": 4}))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(flickr_captions.read_text().splitlines()[:3000]) + "\n")
    return folder / "negatives.json", corpus


def test_audit_reports_every_type(files, tmp_path):
    negatives, corpus = files
    report = audit(str(negatives), str(corpus), str(tmp_path / "out"), AuditConfig(sample=2, seed=3))
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert (
        saved["types"] == report["types"]
        and saved["n_captions"] == 4
        and saved["yield_over"].endswith("metrics.json")
    )
    types = report["types"]
    assert list(types) == ["swap_nouns", "replace_adjectives", "replace_nouns"]
    swap = types["swap_nouns"]
    assert swap["pairs"] == swap["captions"] == 3 and swap["yield"] == 0.75  # of the run's 4 captions
    assert types["replace_adjectives"]["wordnet_related"] == 1.0  # small -> tiny
    assert types["replace_nouns"]["wordnet_related"] == 0.5  # airplane -> jet, not dog -> cat
    assert "wordnet_related" not in types["swap_nouns"]
    model = BlindModel([line.split("\t", 1)[1] for line in corpus.read_text().splitlines()], order=2)
    swaps = [
        (r["original"], n)
        for r in RECORDS
        for n, t in zip(r["enhanced"], r["types"], strict=True)
        if t == "swap_nouns"
    ]
    assert (
        types["swap_nouns"]["blind_prefers_positive"]
        == sum(model.prefers_positive(a, b) for a, b in swaps) / 3
    )
    assert all(len(row["sample"]) == min(2, row["pairs"]) for row in types.values())
    page = (tmp_path / "out" / "audit.html").read_text()
    assert "replace_nouns" in page and "&lt;city&gt;" in page and "<city>" not in page


def test_audit_without_metrics_counts_records_and_the_cli_prints_a_summary(files, tmp_path, capsys):
    negatives, corpus = files
    (negatives.parent / "metrics.json").unlink()
    code = main(["negatives", "audit", str(negatives), "--corpus", str(corpus), "--out", str(tmp_path / "a")])
    assert code == 0
    out = capsys.readouterr().out
    assert "swap_nouns: yield 100.0%" in out and "WordNet-related 50.0%" in out
    assert json.loads((tmp_path / "a" / "audit.json").read_text())["yield_over"] == "records"
    assert (
        main(
            [
                "negatives",
                "audit",
                str(negatives),
                "--corpus",
                str(tmp_path / "none.txt"),
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 2
    )
