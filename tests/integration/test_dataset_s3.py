"""`compclip data import` from and to S3 (the local SeaweedFS)."""

import json

import fsspec
import pyarrow.parquet as pq
import pytest
from PIL import Image

from compclip.dataset import read_images, read_rows
from compclip.dataset_import import import_dataset
from compclip.rejects import Rejects
from compclip.storage import local_dir

pytestmark = pytest.mark.integration


def test_coco_captions_and_images_on_s3_import_to_s3_with_only_the_images_they_name(s3_server, tmp_path):
    bucket = f"s3://{s3_server.bucket}/data-import"
    (tmp_path / "ann").mkdir()
    (tmp_path / "root").mkdir()
    for name in ("a.jpg", "b.jpg", "unused.jpg"):
        Image.new("RGB", (8, 8), "blue").save(tmp_path / "root" / name)
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}]
    annotations = [{"image_id": 1, "caption": "a blue square"}, {"image_id": 2, "caption": "blue"}]
    (tmp_path / "ann" / "captions.json").write_text(
        json.dumps({"images": images, "annotations": annotations})
    )
    fs = fsspec.filesystem("s3")  # the user's own data, uploaded as it is
    for name in ("ann/captions.json", "root/a.jpg", "root/b.jpg", "root/unused.jpg"):
        fs.put_file(str(tmp_path / name), f"{bucket}/{name}")
    counts = import_dataset(f"{bucket}/ann/captions.json", f"{bucket}/out", f"{bucket}/root")
    assert counts["n"] == 2 and counts["rejected"] == 0
    rows = read_rows(f"{bucket}/out", Rejects())  # streamed from S3, not downloaded
    assert [r["image"] for r in rows] == ["0000000.jpg", "0000001.jpg"]
    images = [data for _, data in read_images(f"{bucket}/out", rows, {})]
    assert images == [(tmp_path / "root" / name).read_bytes() for name in ("a.jpg", "b.jpg")]
    with local_dir(f"{bucket}/out") as out:
        assert sorted(p.name for p in (out / "shards").iterdir()) == ["000000.json", "000000.tar"]
        assert pq.read_table(out / "captions.parquet").column("source").to_pylist() == ["a.jpg", "b.jpg"]
        assert json.loads((out / "dataset.json").read_text())["source"] == f"{bucket}/ann/captions.json"
