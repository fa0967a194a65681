"""A cluster run's lineage: outputs recorded by their object-store URI, hashed from the task's copy;
a push of what this machine cannot reach fails in one line before DVC starts."""

import hashlib

import pytest

from compclip.errors import UserError
from compclip.lineage import push, record


def test_an_output_is_recorded_by_its_uri_and_hashed_from_its_local_copy(tmp_path):
    (tmp_path / "pmi").mkdir()
    (tmp_path / "pmi" / "pairs.parquet").write_bytes(b"pairs")
    manifest = record("r1", "abc", {}, {}, {"pmi": "minio://mlpipeline/v2/artifacts/r1/pmi"},
                      {"pmi": str(tmp_path / "pmi")})  # fmt: skip
    assert manifest["outputs"]["pmi"] == {
        "uri": "minio://mlpipeline/v2/artifacts/r1/pmi",
        "files": {"pairs.parquet": hashlib.sha256(b"pairs").hexdigest()},
    }


@pytest.mark.parametrize("uri", ["minio://mlpipeline/v2/artifacts/r1/pmi", "/minio/mlpipeline/r1/pmi"])
def test_pushing_an_output_this_machine_cannot_reach_names_it_and_the_fix(tmp_path, uri):
    manifest = {"run_id": "r1", "outputs": {"pmi": {"uri": uri, "files": {}}}}
    with pytest.raises(UserError, match=r"output pmi is at .*pipeline root is s3://"):
        push(manifest, tmp_path)
    assert not (tmp_path / "lineage").exists()
