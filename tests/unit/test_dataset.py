"""Image-caption sets brought in from outside the world (compclip.dataset, `compclip data import`)."""

import io
import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.cli import main
from compclip.dataset import image_key, read_images, read_rows
from compclip.dataset_import import ImportConfig, import_dataset
from compclip.errors import UserError
from compclip.rejects import Rejects


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
    s = shard = "shards/000000.tar"
    assert rows == [
        {"id": "1", "caption": "A dog on a red couch.", "image": "0000000.jpg", "shard": s,
         "source": "a.jpg"},
        {"id": "1", "caption": "a brown dog lying on a sofa", "image": "0000000.jpg", "shard": s,
         "source": "a.jpg"},
        {"id": "2", "caption": "two cats", "image": "0000001.jpg", "shard": s, "source": "b.jpg"},
    ]  # fmt: skip
    images = dict(read_images(str(out), read_rows(out, Rejects()), {}))
    assert images == {
        f"{shard}/0000000.jpg": (coco / "root/a.jpg").read_bytes(),
        f"{shard}/0000001.jpg": (coco / "root/b.jpg").read_bytes(),
    }  # fmt: skip (not unused.jpg)
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
    assert pq.read_table(tmp_path / "out" / "captions.parquet").column("source").to_pylist() == [
        "images/x.png"
    ]
    assert main(["data", "import", str(folder), "--out", str(tmp_path / "strict")]) == 2


def _tar(path, members):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_img2dataset_tar_shards_import_with_samples_lacking_image_or_caption_and_a_truncated_shard(tmp_path):
    src = tmp_path / "wds"
    _tar(src / "00000.tar", [("000000000.jpg", b"J0"), ("000000000.txt", b"a red car"),
                             ("000000000.json", b"{}"), ("000000001.txt", b"no image"),
                             ("000000002.jpg", b"J2"), ("000000002.txt", b" "),
                             ("000000003.webp", b"W3"), ("000000003.txt", b"a cat")])  # fmt: skip
    _tar(src / "00001.tar", [("000010000.jpg", b"J" * 600), ("000010000.txt", b"a dog"),
                             ("000010001.jpg", b"K" * 600), ("000010001.txt", b"a bird")])  # fmt: skip
    cut = (src / "00001.tar").read_bytes()[:3500]  # inside the second sample's image (3072..3672)
    (src / "00001.tar").write_bytes(cut)
    (src / "00000_stats.json").write_text("{}")
    counts = import_dataset(str(src), str(tmp_path / "out"), config=ImportConfig(max_reject_share=0.6))
    rows = read_rows(tmp_path / "out", Rejects())
    assert [(r["id"], r["caption"]) for r in rows] == [("000000000", "a red car"), ("000000003", "a cat"),
                                                       ("000010000", "a dog")]  # fmt: skip
    images = dict(read_images(str(tmp_path / "out"), rows, {}))
    assert [images[image_key(r)] for r in rows] == [b"J0", b"W3", b"J" * 600]
    assert counts["rejects/sample without image"] == counts["rejects/sample without caption"] == 1
    assert counts["rejects/shard truncated"] == 1 and counts["n"] == 3


def test_img2dataset_parquet_shards_import_and_a_failed_download_is_a_reject(tmp_path):
    src = tmp_path / "pq"
    src.mkdir()
    table = pa.table({"key": ["k0", "k1", "k2"], "caption": ["a red car", "lost", None],
                      "jpg": pa.array([b"J0", None, b"J2"], pa.binary()),
                      "status": ["success", "failed", "success"]})  # fmt: skip
    pq.write_table(table, src / "00000.parquet")
    (src / "00001.parquet").write_bytes(b"PAR1 not really")
    counts = import_dataset(str(src), str(tmp_path / "out"), config=ImportConfig(max_reject_share=0.8))
    rows = read_rows(tmp_path / "out", Rejects())
    assert [(r["id"], r["caption"], r["image"]) for r in rows] == [("k0", "a red car", "0000000.jpg")]
    assert dict(read_images(str(tmp_path / "out"), rows, {})) == {"shards/000000.tar/0000000.jpg": b"J0"}
    assert counts["rejects/sample without image"] == counts["rejects/sample without caption"] == 1
    assert counts["rejects/shard unreadable"] == 1
    with pytest.raises(UserError, match=r"3 of 4 records rejected"):
        import_dataset(str(src), str(tmp_path / "strict"))
    assert not (tmp_path / "strict").exists()


def test_an_older_folder_of_images_converts_to_shards_that_read_back_the_same_images(tmp_path):
    folder = tmp_path / "old"
    for i in range(5):
        _image(folder / "images" / f"{i}.png")
    table = pa.table({"id": [str(i) for i in range(5)], "caption": [f"item {i}" for i in range(5)],
                      "image": [f"images/{i}.png" for i in range(5)]})  # fmt: skip
    pq.write_table(table, folder / "captions.parquet")
    assert main(["data", "import", str(folder), "--out", str(tmp_path / "new"), "--shard-size", "2"]) == 0
    old, new = read_rows(folder, Rejects()), read_rows(tmp_path / "new", Rejects())
    assert [r["shard"] for r in new] == ["shards/000000.tar"] * 2 + ["shards/000001.tar"] * 2 + [
        "shards/000002.tar"
    ]
    assert [d for _, d in read_images(str(folder), old, {})] == [
        d for _, d in read_images(str(tmp_path / "new"), new, {})
    ]
