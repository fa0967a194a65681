"""`compclip negatives audit`: per type yield, blind-model preference, WordNet-related share, a sample."""

from __future__ import annotations

import json

import pytest

from compclip.cli import main
from compclip.negatives.audit import AuditConfig, audit, still_true
from compclip.negatives.blind import BlindModel
from compclip.negatives.tagger import Lexicon, Tagger

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
    {  # a coordination reordered: the same caption, by the audit's own reading
        "image_id": "4",
        "original": "A white and brown dog and a cat on a sofa.",
        "enhanced": [
            "A brown and white dog and a cat on a sofa.",
            "A white and brown cat and a dog on a sofa.",
        ],
        "types": ["swap_adjectives", "swap_nouns"],
    },
]


@pytest.fixture
def files(tmp_path, flickr_captions):
    folder = tmp_path / "neg"
    folder.mkdir()
    (folder / "negatives.json").write_text(json.dumps(RECORDS))
    (folder / "metrics.json").write_text(json.dumps({"n_captions": 5}))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(flickr_captions.read_text().splitlines()[:3000]) + "\n")
    return folder / "negatives.json", corpus


def test_audit_reports_every_type(files, tmp_path):
    negatives, corpus = files
    report = audit(str(negatives), str(corpus), str(tmp_path / "out"), AuditConfig(sample=2, seed=3))
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert (
        saved["types"] == report["types"]
        and saved["n_captions"] == 5
        and saved["yield_over"].endswith("metrics.json")
    )
    types = report["types"]
    assert list(types) == ["swap_nouns", "swap_adjectives", "replace_adjectives", "replace_nouns"]
    swap = types["swap_nouns"]
    assert swap["pairs"] == swap["captions"] == 4 and swap["yield"] == 0.8  # of the run's 5 captions
    assert types["swap_adjectives"]["still_true"] == 1.0 and swap["still_true"] == 0.0
    low, high = swap["ci"]
    assert low < swap["blind_prefers_positive"] < high or swap["blind_prefers_positive"] in (low, high)
    assert high - low > 0.3  # four pairs: a wide interval, shown as such
    assert types["replace_adjectives"]["wordnet_related"] == 1.0  # small -> tiny
    assert types["replace_nouns"]["wordnet_related"] == 0.5  # airplane -> jet, not dog -> cat
    assert "wordnet_related" not in types["swap_nouns"] and "still_true" not in types["replace_nouns"]
    model = BlindModel([line.split("\t", 1)[1] for line in corpus.read_text().splitlines()], order=2)
    swaps = [
        (r["original"], n)
        for r in RECORDS
        for n, t in zip(r["enhanced"], r["types"], strict=True)
        if t == "swap_nouns"
    ]
    assert (
        types["swap_nouns"]["blind_prefers_positive"]
        == sum(model.prefers_positive(a, b) for a, b in swaps) / 4
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
    assert "swap_nouns: 4 pairs, yield 100.0%" in out and "WordNet-related 50.0%" in out
    assert json.loads((tmp_path / "a" / "audit.json").read_text())["yield_over"] == "records"
    own = tmp_path / "input.tsv"  # the run's input as the corpus: yields over its captions
    own.write_text("".join(f"{r['image_id']}\t{r['original']}\n" for r in RECORDS) + "5\ta cat\n")
    assert (
        main(["negatives", "audit", str(negatives), "--corpus", str(own), "--out", str(tmp_path / "c")]) == 0
    )
    report = json.loads((tmp_path / "c" / "audit.json").read_text())
    assert report["yield_over"] == "corpus" and report["types"]["swap_nouns"]["yield"] == 0.8
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


@pytest.mark.parametrize(
    ("original", "negative", "true"),
    [
        ("A man and a woman sit on a bench", "A woman and a man sit on a bench", True),
        (
            "a plate with a dog in a bun , macaroni and cheese",
            "a plate with a dog in a bun , cheese and macaroni",
            True,
        ),
        # the same preposition, hung from another word: each noun now says something else
        ("Tan dog on lead standing on surface", "Tan dog on surface standing on lead", False),
        ("A girl in a swimsuit stands in the spray", "A girl in a spray stands in the swimsuit", False),
        ("A black dog chases a white cat", "A white dog chases a black cat", False),
    ],
)
def test_still_true_reads_what_each_noun_hangs_from(original, negative, true):
    assert still_true(original, negative, Tagger(Lexicon.load())) is true
