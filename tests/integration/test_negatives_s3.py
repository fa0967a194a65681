"""`compclip negatives` with every input and output on s3://, byte for byte the same as on local paths."""

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.cli import main
from compclip.storage import read_bytes

pytestmark = pytest.mark.integration

CAPTIONS = ["a red car next to a white dog", "Two brown horses eating hay near an old barn."]


def test_generate_and_filter_s3_in_and_out(s3_server, tmp_path):
    fs = fsspec.filesystem("s3")
    local = tmp_path / "caps.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "caption": CAPTIONS}), local)
    bucket = f"s3://{s3_server.bucket}/negatives-test"
    fs.put(str(local), f"{bucket}/caps.parquet")
    fs.put(str(local), f"{bucket}/reference.parquet")  # the blind filter's captions, on s3:// too
    params = tmp_path / "params.yaml"
    params.write_text("negatives:\n  filter: {blind_min_captions: 2}\n")
    flags = ["--params", str(params), "--reference-captions"]
    assert main(["negatives", "generate", f"{bucket}/caps.parquet", "--out", f"{bucket}/neg",
                 *flags, f"{bucket}/reference.parquet"]) == 0  # fmt: skip
    assert (
        main(["negatives", "generate", str(local), "--out", str(tmp_path / "neg"), *flags, str(local)]) == 0
    )
    assert main(["negatives", "filter", f"{bucket}/neg/negatives.json", "--out", f"{bucket}/clean",
                 *flags, str(local)]) == 0  # fmt: skip
    assert (
        main(
            [
                "negatives",
                "filter",
                str(tmp_path / "neg" / "negatives.json"),
                "--out",
                str(tmp_path / "clean"),
                *flags,
                str(local),
            ]
        )
        == 0
    )
    fs.invalidate_cache()
    for folder in ("neg", "clean"):
        for name in ("negatives.json", "negatives.parquet"):
            assert read_bytes(f"{bucket}/{folder}/{name}") == (tmp_path / folder / name).read_bytes()
    assert not (tmp_path / "neg.progress").exists()
