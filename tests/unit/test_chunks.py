"""Chunked, resumable, shardable work (compclip.chunks)."""

import pytest

from compclip.chunks import Shard, Work, work_folder
from compclip.errors import UserError


def test_shards_split_the_chunks_exactly():
    chunks = [Shard(i, 3).chunks(10, 3) for i in range(3)]
    flat = sorted(c for shard in chunks for c in shard)
    assert flat == [(0, range(0, 3)), (1, range(3, 6)), (2, range(6, 9)), (3, range(9, 10))]
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(UserError):
            Shard.parse(bad)


def test_shards_given_one_work_dir_work_in_folders_of_their_own(tmp_path):
    folders = [work_folder(tmp_path, "s3://b/out", "paste", Shard(i, 2)) for i in range(2)]
    assert folders == [str(tmp_path / "paste-0-of-2"), str(tmp_path / "paste-1-of-2")]
    for i, folder in enumerate(folders):  # both open: neither sees the other's fingerprint
        Work(folder, {"shard": i})
    with pytest.raises(UserError, match="another run"):
        Work(folders[0], {"shard": 1})
    assert work_folder(None, str(tmp_path / "out"), "paste", Shard()) == str(tmp_path / ".out.paste-work")
    assert work_folder("s3://b/work/", "out", "paste", Shard(1, 2)) == "s3://b/work/paste-1-of-2"
