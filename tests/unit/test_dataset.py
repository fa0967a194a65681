"""Image-caption sets brought in from outside the world (compclip.dataset, `compclip data import`)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.cli import main
from compclip.dataset import ImportConfig, import_dataset
from compclip.errors import UserError


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), "red").save(path)


@pytest.fixture
def coco(tmp_path):
    """COCO captions: image 1 with two captions, image 2 with one, image 3 absent from the root, an
    empty caption and an annotation of an image id `images` does not list."""
    for name in ("a.jpg", "b.jpg", "unused.jpg"):
        _image(tmp_path / "root" / name)
    doc = {
        "images": [
            {"id": 1, "file_name": "a.jpg"},
            {"id": 2, "file_name": "b.jpg"},
            {"id": 3, "file_name": "c.jpg"},
        ],
        "annotations": [
            {"image_id": 1, "caption": "A dog on a red couch. "},
            {"image_id": 1, "caption": "a brown dog lying on a sofa"},
            {"image_id": 2, "caption": "two cats"},
            {"image_id": 3, "caption": "a missing image"},
            {"image_id": 2, "caption": "  "},
            {"image_id": 9, "caption": "no such image id"},
        ],
    }
    (tmp_path / "captions_val.json").write_text(json.dumps(doc))
    return tmp_path


def test_coco_captions_become_a_dataset_folder_with_only_their_usable_rows_and_images(coco):
    out = coco / "out"
    counts = import_dataset(
        str(coco / "captions_val.json"), str(out), str(coco / "root"), ImportConfig(max_reject_share=0.6)
    )
    rows = pq.read_table(out / "captions.parquet").to_pylist()
    assert rows == [
        {"id": "1", "caption": "A dog on a red couch.", "image": "images/a.jpg"},
        {"id": "1", "caption": "a brown dog lying on a sofa", "image": "images/a.jpg"},
        {"id": "2", "caption": "two cats", "image": "images/b.jpg"},
    ]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["a.jpg", "b.jpg"]  # not unused.jpg
    header = json.loads((out / "dataset.json").read_text())
    assert header["format"] == "coco" and header["n"] == counts["n"] == 3 and counts["images"] == 2
    assert counts["rejects/image missing"] == counts["rejects/caption row missing caption"] == 1
    assert counts["rejects/image id not in `images`"] == 1 and counts["rejected"] == 3


def test_too_many_unusable_rows_fail_naming_the_first_and_write_nothing(coco):
    with pytest.raises(UserError, match=r"3 of 6 records rejected.*image_id=2: caption row missing caption"):
        import_dataset(str(coco / "captions_val.json"), str(coco / "out"), str(coco / "root"))
    assert not (coco / "out").exists()
    with pytest.raises(UserError, match="need their image root"):
        import_dataset(str(coco / "captions_val.json"), str(coco / "out"))


def test_a_folder_is_checked_and_an_image_path_outside_it_counts_as_missing(tmp_path):
    folder = tmp_path / "set"
    _image(folder / "images" / "x.png")
    _image(tmp_path / "secret.png")
    table = pa.table(
        {
            "id": ["1", "2"],
            "caption": ["a red cube", "a blue ring"],
            "image": ["images/x.png", "../secret.png"],
        }
    )
    pq.write_table(table, folder / "captions.parquet")
    args = ["data", "import", str(folder), "--out", str(tmp_path / "out"), "--max-reject-share", "0.5"]
    assert main(args) == 0
    assert pq.read_table(tmp_path / "out" / "captions.parquet").column("image").to_pylist() == [
        "images/x.png"
    ]
    assert main(["data", "import", str(folder), "--out", str(tmp_path / "strict")]) == 2
