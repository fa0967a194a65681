"""A cluster run's lineage: outputs recorded by their object-store URI, hashed from the task's copy;
a push of what this machine cannot reach fails in one line before DVC starts. A registry version's
inputs hashed the same way, file by file."""

import hashlib
import shutil

import pytest

from compclip.errors import UserError
from compclip.lineage import push, record
from compclip.registry.lineage import content_sha256
from compclip.storage import content_hashes


def test_an_output_is_recorded_by_its_uri_and_hashed_from_its_local_copy(tmp_path):
    (tmp_path / "pmi").mkdir()
    (tmp_path / "pmi" / "pairs.parquet").write_bytes(b"pairs")
    manifest = record(
        "r1", "abc", {}, {}, {"pmi": "minio://mlpipeline/v2/artifacts/r1/pmi"}, {"pmi": str(tmp_path / "pmi")}
    )
    assert manifest["outputs"]["pmi"] == {
        "uri": "minio://mlpipeline/v2/artifacts/r1/pmi",
        "files": {"pairs.parquet": hashlib.sha256(b"pairs").hexdigest()},
    }


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        # read as s3:// with this machine's AWS settings: none here, or (after the S3 tests of this
        # session exported theirs) a server that holds nothing there
        (
            "minio://mlpipeline/v2/artifacts/r1/pmi",
            r"(s3://mlpipeline/v2/artifacts/r1/pmi: no credentials|: nothing there)",
        ),
        ("/minio/mlpipeline/r1/pmi", r"output pmi is at /minio/mlpipeline/r1/pmi: not on this machine"),
    ],
)
def test_pushing_an_output_this_machine_cannot_reach_names_it_before_anything_is_written(tmp_path, uri, why):
    manifest = {"run_id": "r1", "outputs": {"pmi": {"uri": uri, "files": {}}}}
    with pytest.raises(UserError, match=why):
        push(manifest, tmp_path)
    assert not (tmp_path / "lineage").exists()


def test_a_folder_is_hashed_by_its_files_wherever_it_lies(tmp_path):
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "a.png").write_bytes(b"png")
    (folder / "captions.parquet").write_bytes(b"table")
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "data")
    png = hashlib.sha256(b"png").hexdigest()
    assert content_hashes(str(folder)) == content_hashes(str(copy))
    assert content_hashes(str(folder))["images/a.png"] == png
    assert content_sha256(str(folder)) == content_sha256(f"{copy}/")
    assert content_sha256(str(folder / "images" / "a.png")) == png
    (copy / "images" / "a.png").write_bytes(b"other")
    assert content_sha256(str(folder)) != content_sha256(str(copy))
    assert content_sha256(str(tmp_path / "missing")) is None
