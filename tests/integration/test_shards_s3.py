"""A sharded world corpus on S3 (SeaweedFS on loopback): streamed and range-read through its output
pointer as it reads locally, and a shard whose index never arrived is a counted reject there too."""

import fsspec
import pytest

from compclip.dataset import image_key, read_images, read_rows
from compclip.outputs import publish_s3
from compclip.rejects import Rejects
from compclip.shards import read_image, read_index
from compclip.world import CorpusConfig, write_corpus

pytestmark = pytest.mark.integration
SMALL = {"mention": {"accessory": 1.0}}


def test_a_corpus_on_s3_streams_and_range_reads_the_same_images_as_locally(s3_server, tmp_path):
    local = tmp_path / "corpus"
    write_corpus(str(local), CorpusConfig(n=30, seed=2, overrides=SMALL, shard_size=8))
    uri = f"s3://{s3_server.bucket}/shards-test/corpus"
    publish_s3(local, uri)
    rows = read_rows(uri, Rejects())
    failed = {}
    streamed = list(read_images(uri, rows, failed))
    assert not failed and streamed == list(read_images(str(local), rows, {}))
    assert [key for key, _ in streamed] == [image_key(r) for r in rows]  # write order, shard by shard
    index = read_index(f"{uri}/shards/000002.tar")
    assert (
        read_image(uri, "shards/000002.tar", "0000017.png", index)
        == dict(streamed)["shards/000002.tar/0000017.png"]
    )


def test_a_shard_without_its_index_on_s3_is_a_reject_of_its_images(s3_server, tmp_path):
    local = tmp_path / "corpus"
    write_corpus(str(local), CorpusConfig(n=12, seed=2, overrides=SMALL, shard_size=5))
    (local / "shards" / "000001.json").unlink()  # as if its writer died before the index
    uri = f"s3://{s3_server.bucket}/shards-test/unfinished"
    fs = fsspec.filesystem("s3")
    fs.put(str(local) + "/", uri, recursive=True)  # a folder copied as it is, its marker stale
    rows = read_rows(uri, Rejects())
    failed = {}
    keys = [key for key, _ in read_images(uri, rows, failed)]
    assert len(keys) == 7 and not any(k.startswith("shards/000001.tar/") for k in keys)
    assert set(failed.values()) == {"shard without index (unfinished)"} and len(failed) == 5
