"""Caption readers: every format, and every kind of bad record counted by reason."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.captions import ReadConfig, detect_format, read_captions
from compclip.errors import UserError
from compclip.rejects import Rejects


def _read(path, **kwargs):
    rejects = Rejects()
    batches = list(read_captions(str(path), ReadConfig(**kwargs), rejects))
    ids = [i for b in batches for i in b.ids.to_pylist()]
    captions = [c for b in batches for c in b.captions.to_pylist()]
    return ids, captions, rejects


def test_flickr_style_tsv_with_txt_extension(flickr_captions):
    ids, captions, rejects = _read(flickr_captions)
    assert len(captions) == 40460 and rejects.total == 0
    assert ids[0].endswith("#0") and captions[0].startswith("A child in a pink dress")


def test_laion_parquet(tmp_path):
    path = tmp_path / "laion.parquet"
    pq.write_table(
        pa.table({"SAMPLE_ID": [1, 2, None], "TEXT": ["a dog", None, "a cat"], "URL": ["u"] * 3}), path
    )
    ids, captions, rejects = _read(path)
    assert (ids, captions) == (["1"], ["a dog"])
    assert rejects.as_dict() == {"missing_caption": 1, "missing_id": 1}


def test_parquet_named_column_without_ids(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["one dog", "two cats"]}), path)
    ids, captions, _ = _read(path, caption_column="text")
    assert (ids, captions) == (["0", "1"], ["one dog", "two cats"])


def test_missing_caption_column_names_the_file(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"text": ["a"]}), path)
    with pytest.raises(UserError, match=r"c\.parquet: no caption column 'caption' \(columns: text\)"):
        _read(path)


def test_jsonl_with_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "caption": "a dog"}, "not json", {"id": "b"}, {"caption": "no id"}, [1, 2]]
    path.write_text("\n".join(json.dumps(r) if not isinstance(r, str) else r for r in rows) + "\n")
    ids, captions, rejects = _read(path)
    assert (ids, captions) == (["a"], ["a dog"])
    assert rejects.as_dict() == {"malformed_json": 2, "missing_caption": 1, "missing_id": 1}


def test_plain_text_and_every_bad_caption(tmp_path):
    path = tmp_path / "c.txt"
    lines = [b"a dog", b"", b"   \t ", b"caf\xe9 latin-1", b"x" * 2_000_000, "caf\u00e9 ok".encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    ids, captions, rejects = _read(path, fmt="text")
    assert captions == ["a dog", "café ok"] and ids == ["1", "6"]
    assert rejects.as_dict() == {"empty_caption": 2, "not_utf8": 1, "too_long": 1}


def test_tsv_rows_without_tab_or_id(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tdog one\nno tab here\n\tmissing id\nb\tcat two\n")
    ids, _captions, rejects = _read(path)
    assert ids == ["a", "b"] and rejects.as_dict() == {"malformed_line": 1, "missing_id": 1}


def test_reject_share_check_names_file_and_first_records():
    rejects = Rejects()
    rejects.add("empty_caption", "f.txt:3", 3)
    rejects.check(10, 0.5, "f.txt")
    with pytest.raises(UserError, match=r"f\.txt: 3 of 4 records rejected .*first: f\.txt:3: empty_caption"):
        rejects.check(4, 0.5, "f.txt")


def test_reject_share_of_one_reason_ignores_the_others():
    rejects = Rejects()
    rejects.add("bad_candidate", "p1", 9)
    rejects.add("pair_without_caption", "p2", 2)
    rejects.check(4, 0.5, "pairs", "pair_without_caption")
    rejects.add("pair_without_caption", "p3")
    with pytest.raises(UserError, match=r"pairs: 3 of 4 records rejected \(\{'bad_candidate': 9, 'pair_"):
        rejects.check(4, 0.5, "pairs", "pair_without_caption")


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match=r"broken\.parquet"):
        _read(bad)
    with pytest.raises(UserError, match="no such file"):
        _read(tmp_path / "missing.txt")


def test_compressed_text(tmp_path):
    import gzip

    path = tmp_path / "c.tsv.gz"
    path.write_bytes(gzip.compress(b"a\tone dog\nb\ttwo cats\n"))
    ids, captions, _ = _read(path)
    assert (ids, captions) == (["a", "b"], ["one dog", "two cats"])


def test_detect_format():
    assert detect_format("x.txt", b"id1\ta dog\nid2\ta cat\n") == "tsv"
    assert detect_format("x.txt", b"a dog\na cat\n") == "text"
    assert detect_format("x.bin", b"PAR1....") == "parquet"
    assert detect_format("x.jsonl.gz", b"") == "jsonl"


def test_folders_expand_to_caption_files_only(tmp_path):
    from compclip.captions import is_caption_file
    from compclip.storage import expand

    for name in ("captions.parquet", "dataset.json", "images/0.png", "more/b.tsv.gz", ".hidden.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.removeprefix(str(tmp_path) + "/") for p in expand([str(tmp_path)], keep=is_caption_file)]
    assert found == ["captions.parquet", "more/b.tsv.gz"]
    assert expand([str(tmp_path / "dataset.json")], keep=is_caption_file)[0].endswith("dataset.json")


def test_a_caption_column_that_is_not_text_is_an_error(tmp_path):
    path = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "caption": [1, 2]}), path)
    with pytest.raises(UserError, match=r"ints\.parquet: the caption column holds int64, not text"):
        _read(path)


def test_jsonl_captions_that_are_not_text_are_counted(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "caption": "a dog"}, {"id": "b", "caption": 7}, {"id": "c", "caption": ["x"]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ids, captions, rejects = _read(path)
    assert (ids, captions) == (["a"], ["a dog"])
    assert rejects.as_dict() == {"not_text": 2}
