"""The one negatives reader: one record per caption, COCO-style images with several captions."""

import json

from compclip.negatives import NegativesConfig, filter_file
from compclip.negatives.io import read_negatives
from compclip.negatives.validity import FilterConfig
from compclip.rejects import Rejects


def unfiltered(**settings) -> NegativesConfig:
    """A config without the blind filter: these inputs are far fewer than it learns from."""
    return NegativesConfig(filter=FilterConfig(blind=False), **settings)


COCO = [  # two captions of image 1, the first one's negatives split over two records
    {"image_id": "1", "original": "a red car", "enhanced": ["a blue car"], "types": ["replace_adjectives"]},
    {"image_id": "1", "original": "a car on a road", "enhanced": ["a road on a car"], "types": ["reshuffle"]},
    {
        "image_id": "1",
        "original": "a red car ",
        "enhanced": ["a blue car", "a red boat"],
        "types": ["replace_adjectives", "replace_nouns"],
    },
]


def test_records_are_keyed_by_caption_not_by_image(tmp_path):
    path = tmp_path / "negatives.json"
    path.write_text(json.dumps(COCO))
    records = read_negatives(str(path), Rejects())
    assert [(r.image_id, r.original) for r in records] == [("1", "a red car"), ("1", "a car on a road")]
    assert records[0].enhanced == ["a blue car", "a blue car", "a red boat"]
    assert records[0].types == ["replace_adjectives", "replace_adjectives", "replace_nouns"]
    assert records[1].enhanced == ["a road on a car"]


def test_the_folder_negatives_generate_writes_reads_as_its_file(tmp_path):
    (tmp_path / "neg").mkdir()
    (tmp_path / "neg" / "negatives.json").write_text(json.dumps(COCO))
    from_folder = read_negatives(str(tmp_path / "neg"), Rejects())
    assert from_folder == read_negatives(str(tmp_path / "neg" / "negatives.json"), Rejects())
    assert len(from_folder) == 2


def test_filter_keeps_each_caption_its_own_negatives_once(tmp_path):
    path = tmp_path / "negatives.json"
    path.write_text(json.dumps(COCO))
    metrics = filter_file(str(path), tmp_path / "out", unfiltered())
    kept = json.loads((tmp_path / "out" / "negatives.json").read_text())
    assert kept == [
        {
            "image_id": "1",
            "original": "a red car",
            "enhanced": ["a blue car", "a red boat"],
            "types": ["replace_adjectives", "replace_nouns"],
        },
        {
            "image_id": "1",
            "original": "a car on a road",
            "enhanced": ["a road on a car"],
            "types": ["reshuffle"],
        },
    ]
    assert metrics["reject_duplicate"] == 1 and metrics["n_records"] == 2
