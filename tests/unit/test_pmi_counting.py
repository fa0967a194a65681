"""PMI counting: hand-computed tables, sharding identity, both counters, released-code mode."""

import math
from pathlib import Path

import numpy as np
import pytest

from compclip.errors import UserError
from compclip.pmi import (
    CountConfig,
    PMITable,
    count_corpus,
    count_shard_pairs,
    merge_table,
    merge_vocab,
    scan_shard,
)
from compclip.pmi.encode import Encoded
from compclip.pmi.pairs import PairCounter, caption_pair_keys, tri_index, tri_pairs

CORPUS = [
    "a dog with a frisbee",
    "dogs on the beach",
    "the dog and the ball",
    "a cat on the beach",
    "a cat with a ball",
    "the of and",  # no concepts, still a valid caption: N counts it
]


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hand_computed_pmi(tmp_path):
    corpus = _write(tmp_path, "c.txt", CORPUS)
    count_corpus([str(corpus)], tmp_path / "t", CountConfig(min_count=1))
    table = PMITable.load(tmp_path / "t")
    assert table.n_captions == 6
    assert table.count("dog") == 3 and table.count("dogs") == 3
    assert table.count("beach") == 2 and table.count("dog", "beach") == 1
    assert table.pmi("dog", "beach") == pytest.approx(math.log((1 / 6) / ((3 / 6) * (2 / 6))))
    assert table.pmi("frisbee", "dog") == pytest.approx(math.log((1 / 6) / ((3 / 6) * (1 / 6))))
    assert table.pmi("cat", "frisbee") == -math.inf  # never together
    assert math.isnan(table.pmi("dog", "zebra"))  # outside the vocabulary
    score = table.score("a dog on the beach with a ball")
    assert {(a, b) for a, b, _ in score.pairs} == {("ball", "beach"), ("ball", "dog"), ("beach", "dog")}
    assert score.mean == -math.inf  # ball & beach never together


def test_min_count_is_over_the_whole_corpus_and_smoothing(tmp_path):
    corpus = _write(tmp_path, "c.txt", CORPUS)
    count_corpus([str(corpus)], tmp_path / "t", CountConfig(min_count=2, smoothing=0.5))
    table = PMITable.load(tmp_path / "t")
    assert table.names == ["ball", "beach", "cat", "dog"]
    assert table.pmi("cat", "dog") == pytest.approx(math.log(0.5 * 6 / (2 * 3)))
    assert table.header["smoothing"]["pair_k"] == 0.5 and table.header["min_count"] == 2


def test_top_partners_sorted(tmp_path):
    count_corpus([str(_write(tmp_path, "c.txt", CORPUS))], tmp_path / "t", CountConfig(min_count=1))
    table = PMITable.load(tmp_path / "t")
    top = table.top("dog", k=3)
    assert [p for _, p, _ in top] == sorted((p for _, p, _ in top), reverse=True)
    assert top[0][0] == "frisbee"
    with pytest.raises(UserError):
        table.top("zebra")


def _split(lines: list[str], parts: int, folder: Path) -> list[Path]:
    return [_write(folder, f"part-{i:02d}.tsv", lines[i::parts]) for i in range(parts)]


@pytest.fixture(scope="module")
def flickr_parts(flickr_captions, tmp_path_factory):
    lines = flickr_captions.read_text(encoding="utf-8").splitlines()
    return _split(lines, 4, tmp_path_factory.mktemp("parts"))


def test_n_shards_merged_equal_one_run_bit_for_bit(flickr_parts, tmp_path):
    config = CountConfig(min_count=3)
    count_corpus([str(p) for p in flickr_parts], tmp_path / "one", config)
    shards = []
    for i, part in enumerate(flickr_parts):
        scan_shard([str(part)], tmp_path / f"s{i}", config)
        shards.append(tmp_path / f"s{i}")
    merge_vocab(shards, tmp_path / "vocab", config)
    for shard in shards:
        count_shard_pairs(shard, tmp_path / "vocab", config)
    merge_table(shards, tmp_path / "vocab", tmp_path / "merged", config)
    for name in ("concepts.parquet", "pairs.parquet", "header.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "merged" / name).read_bytes(), name


def test_flickr_counts_match_a_plain_python_count(flickr_parts, tmp_path):
    from compclip.pmi.concepts import ConceptRules

    rules = ConceptRules()
    sets = [
        set(rules.concepts(line.split("\t", 1)[1]))
        for p in flickr_parts
        for line in p.read_text().splitlines()
    ]
    count_corpus([str(p) for p in flickr_parts], tmp_path / "t", CountConfig(min_count=3))
    table = PMITable.load(tmp_path / "t")
    assert table.n_captions == len(sets) == 40460
    for a, b in [("dog", "frisbee"), ("beach", "dog"), ("snow", "dog"), ("girl", "pink")]:
        n_a = sum(a in s for s in sets)
        n_b = sum(b in s for s in sets)
        n_ab = sum(a in s and b in s for s in sets)
        assert (table.count(a), table.count(b), table.count(a, b)) == (n_a, n_b, n_ab)
        assert table.pmi(a, b) == pytest.approx(math.log(n_ab * len(sets) / (n_a * n_b)))


def test_same_file_in_two_shards_is_refused(flickr_parts, tmp_path):
    config = CountConfig(min_count=3)
    scan_shard([str(flickr_parts[0])], tmp_path / "a", config)
    scan_shard([str(flickr_parts[0])], tmp_path / "b", config)
    with pytest.raises(UserError, match="counted twice"):
        merge_vocab([tmp_path / "a", tmp_path / "b"], tmp_path / "v", config)


def test_tri_index_round_trip():
    a, b = np.triu_indices(7, 1)
    keys = tri_index(a, b, 7)
    assert list(keys) == list(range(21))
    assert all(np.array_equal(x, y) for x, y in zip(tri_pairs(keys, 7), (a, b), strict=True))


def test_pair_keys_count_each_caption_pair_once():
    encoded = Encoded(np.array([0, 3, 4, 6]), np.array([2, 0, 1, 1, 2, 0], np.int32))
    lut = np.array([0, 1, -1])  # concept 2 is outside the vocabulary
    keys = caption_pair_keys(encoded, lut, 2)
    assert sorted(keys.tolist()) == [0]  # only caption 0 has two in-vocabulary concepts


@pytest.mark.parametrize("dense_limit", [1 << 30, 0])
def test_dense_and_sparse_counters_agree(dense_limit):
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 45, 1000)
    counter = PairCounter(10, 1000, dense_limit)
    counter.add_keys(keys[:500])
    counter.add_keys(keys[500:])
    counter.add_counts(np.array([3, 7]), np.array([10, 1]))
    got_keys, got_counts = counter.items()
    expected = np.bincount(keys, minlength=45)
    expected[3] += 10
    expected[7] += 1
    assert got_keys.tolist() == np.flatnonzero(expected).tolist()
    assert got_counts.tolist() == expected[expected > 0].tolist()


def test_released_code_mode(tmp_path):
    lines = ["red dog", "red dog", "red cat", "blue cat", "blue dog bird"]
    corpus = _write(tmp_path, "c.txt", lines)
    count_corpus([str(corpus)], tmp_path / "t", CountConfig(mode="released-code", top_k=4))
    table = PMITable.load(tmp_path / "t")
    # top-4 by token count: red 3, dog 3, blue 2, cat 2 (bird 1 is cut; ties broken by name)
    assert table.names == ["blue", "cat", "dog", "red"]
    # word frequency = pair marginal: red pairs with dog twice and cat once
    marginal = {"red": 3, "dog": 3, "cat": 2, "blue": 2}
    const = 3.2e9 / (3.2e9 - 1)
    expected = math.log(const * (2 + 1) / ((marginal["red"] + 1000) * (marginal["dog"] + 1000)))
    assert table.pmi("red", "dog") == pytest.approx(expected)
    assert table.pmi("red", "blue") == pytest.approx(math.log(const / (1003 * 1002)))


def test_bad_config_is_a_user_error():
    with pytest.raises(UserError):
        CountConfig(mode="nope")
    with pytest.raises(UserError):
        CountConfig(min_count=0)


def test_released_code_mode_counts_captions_of_any_length(tmp_path):
    long = "red dog " + "walking " * 2000  # 16,008 characters: over exact mode's 10,000 cap
    corpus = _write(tmp_path, "c.txt", ["red dog", "blue cat", long])
    exact = count_corpus([str(corpus)], tmp_path / "e", CountConfig(min_count=1, max_reject_share=0.5))
    released = count_corpus([str(corpus)], tmp_path / "r", CountConfig(mode="released-code", top_k=10))
    assert (exact["n_captions"], exact["rejects"]) == (2, {"too_long": 1})
    assert (released["n_captions"], released["rejects"]) == (3, {})
    assert released["max_caption_chars"] is None
    assert PMITable.load(tmp_path / "r").count("walking") == 1
