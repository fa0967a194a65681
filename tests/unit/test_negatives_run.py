"""The stage end to end with the rule generator: outputs and their schema, metrics, resume, bad input,
shards of the caption chunks merged into one run's output."""

from __future__ import annotations

import json
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compclip.chunks import Shard
from compclip.cli import main
from compclip.errors import UserError
from compclip.negatives import TYPES, NegativesConfig, RuleGenerator, Rules, filter_file, generate
from compclip.negatives.io import read_negatives
from compclip.negatives.profile import resolve
from compclip.negatives.shards import merge_negatives, shard_keys
from compclip.negatives.validity import FilterConfig
from compclip.rejects import Rejects


def unfiltered(**settings) -> NegativesConfig:
    """A config without the blind filter: these inputs are far fewer than it learns from."""
    return NegativesConfig(filter=FilterConfig(blind=False), **settings)


CAPTIONS = [
    "a red car next to a white dog",
    "Two brown horses eating hay near an old barn.",
    "A young woman holding a black umbrella on a rainy street",
    "a man riding a horse on the beach",
]


@pytest.fixture(scope="module")
def rules() -> RuleGenerator:
    return RuleGenerator()


class Counting:
    """Records which ids the stage asked for."""

    def __init__(self, inner) -> None:
        self.inner, self.asked = inner, []

    def generate(self, items):
        self.asked.extend(i for i, _, _ in items)
        return self.inner.generate(items)


def dataset(folder, captions, ids=None):
    folder.mkdir(parents=True, exist_ok=True)
    ids = ids or [f"img{i}" for i in range(len(captions))]
    pq.write_table(
        pa.table({"id": ids, "caption": captions, "image": [f"{i}.png" for i in ids]}),
        folder / "captions.parquet",
    )
    return folder


def test_outputs_follow_the_degla_schema(tmp_path, rules):
    data = dataset(tmp_path / "data", CAPTIONS)
    metrics = generate(str(data), tmp_path / "out", unfiltered(per_type=2), Rules(rules, 0))
    records = json.loads((tmp_path / "out" / "negatives.json").read_text())
    assert [r["image_id"] for r in records] == ["img0", "img1", "img2", "img3"]
    for record in records:
        assert set(record) == {"image_id", "original", "enhanced", "types"}
        assert len(record["enhanced"]) == len(record["types"]) and set(record["types"]) <= set(TYPES)
        assert all(record["types"].count(t) <= 2 for t in TYPES)
    table = pq.read_table(tmp_path / "out" / "negatives.parquet")
    assert table.column_names == ["image_id", "original", "negative", "type"]
    assert table.num_rows == sum(len(r["enhanced"]) for r in records) == metrics["n_negatives"]
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["yield_swap_adjectives"] == 0.75  # the beach caption has no two adjectives
    assert saved["no_valid_swap_adjectives"] == 1 and saved["yield_replace_nouns"] == 1.0
    assert saved["blind_model"] is False and saved["profile"] == "real"
    assert all(isinstance(v, int | float | str) for v in saved.values())


class Killed(Counting):
    """Fails when asked for ``kill``, as a killed run would stop there."""

    def __init__(self, inner, kill: str) -> None:
        super().__init__(inner)
        self.kill = kill

    def generate(self, items):
        if any(i == self.kill for i, _, _ in items):
            raise KeyboardInterrupt
        return super().generate(items)


def test_resume_skips_done_ids_and_gives_the_same_result(tmp_path, rules):
    data = dataset(tmp_path / "data", CAPTIONS)
    config = unfiltered(chunk=1)
    with pytest.raises(KeyboardInterrupt):
        generate(str(data), str(tmp_path / "out"), config, Killed(Rules(rules, 0), "img2"))
    assert not (tmp_path / "out").exists()  # nothing published by a failed run
    work = tmp_path / "out.progress"
    (work / "progress.jsonl").open("a").write('{"image_id": "img9", "orig')  # a line cut by the kill
    counting = Counting(Rules(rules, 0))
    metrics = generate(str(data), str(tmp_path / "out"), config, counting)
    assert set(counting.asked) == {"img2", "img3"}
    assert metrics["resumed"] == 2 and metrics["input_progress_not_an_object"] == 1
    assert not work.exists() and (tmp_path / "out" / "progress.jsonl").is_file()
    generate(str(data), str(tmp_path / "fresh"), config, Rules(rules, 0))
    assert (tmp_path / "out" / "negatives.json").read_text() == (
        tmp_path / "fresh" / "negatives.json"
    ).read_text()


def test_resume_keys_on_input_content_not_its_path(tmp_path, rules):
    config = unfiltered(chunk=1)
    with pytest.raises(KeyboardInterrupt):
        generate(
            str(dataset(tmp_path / "a", CAPTIONS)),
            str(tmp_path / "out"),
            config,
            Killed(Rules(rules, 0), "img1"),
        )
    counting = Counting(Rules(rules, 0))
    generate(str(dataset(tmp_path / "moved", CAPTIONS)), str(tmp_path / "out"), config, counting)
    assert "img0" not in counting.asked  # the same captions at another path resume
    with pytest.raises(KeyboardInterrupt):
        generate(str(tmp_path / "a"), str(tmp_path / "o2"), config, Killed(Rules(rules, 0), "img1"))
    with pytest.raises(UserError, match="another config"):
        generate(str(dataset(tmp_path / "a", CAPTIONS[::-1])), str(tmp_path / "o2"), config, Rules(rules, 0))
    with pytest.raises(UserError, match="another config"):
        generate(str(tmp_path / "moved"), str(tmp_path / "o2"), unfiltered(seed=5), Rules(rules, 5))


def test_seed_changes_replacements_and_is_reproducible(tmp_path, rules):
    data = dataset(tmp_path / "data", CAPTIONS)
    texts = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        generate(str(data), tmp_path / name, unfiltered(seed=seed), Rules(rules, seed))
        texts.append((tmp_path / name / "negatives.json").read_text())
    assert texts[0] == texts[1] != texts[2]


def test_bad_caption_rows_and_duplicate_captions_are_counted(tmp_path, rules):
    path = tmp_path / "caps.jsonl"
    lines = [
        json.dumps({"id": "a", "caption": CAPTIONS[0]}),
        "{not json",
        json.dumps({"id": "b", "caption": ""}),
    ]
    lines += [json.dumps({"id": "a", "caption": CAPTIONS[0]})] + [
        json.dumps({"id": f"c{i}", "caption": c}) for i, c in enumerate(CAPTIONS * 10)
    ]
    path.write_text("\n".join(lines) + "\n")
    metrics = generate(str(path), tmp_path / "out", unfiltered(max_reject_share=0.2), Rules(rules, 0))
    assert metrics["n_captions"] == 41
    assert (
        metrics["input_malformed_json"],
        metrics["input_empty_caption"],
        metrics["input_duplicate_caption"],
    ) == (1, 1, 1)
    with pytest.raises(UserError, match="rejected"):
        generate(str(path), tmp_path / "strict", unfiltered(max_reject_share=0.01), Rules(rules, 0))


def test_every_caption_of_an_image_gets_its_own_negatives(tmp_path, rules):
    """COCO-style data: five captions an image, each a record of its own under the image's id."""
    data = dataset(tmp_path / "coco", CAPTIONS + CAPTIONS[:2], ids=["x"] * 4 + ["y"] * 2)
    generate(str(data), tmp_path / "out", unfiltered(), Rules(rules, 0))
    records = json.loads((tmp_path / "out" / "negatives.json").read_text())
    assert [(r["image_id"], r["original"]) for r in records] == [
        *(("x", c) for c in CAPTIONS),
        *(("y", c) for c in CAPTIONS[:2]),
    ]
    assert all(r["enhanced"] for r in records)


def test_filter_counts_malformed_records_and_invalid_negatives(tmp_path):
    records = [
        {
            "image_id": "1",
            "original": "a red car",
            "enhanced": ["a blue car", "a red car"],
            "types": ["replace_adjectives", "swap_nouns"],
        },
        {
            "image_id": "2",
            "original": "a dog on a bed",
            "enhanced": ["a bed on a dog"],
            "types": ["reshuffle"],
        },
        {"image_id": "3", "original": "a cat"},
        {"image_id": "4", "original": "a cat", "enhanced": ["a dog"], "types": []},
        {"image_id": "5", "original": "a cat", "enhanced": ["a dog"], "types": ["rename"]},
        "junk",
    ] + [
        {"image_id": f"x{i}", "original": "a cat", "enhanced": ["a dog"], "types": ["replace_nouns"]}
        for i in range(20)
    ]
    path = tmp_path / "neg.json"
    path.write_text(json.dumps(records))
    metrics = filter_file(str(path), tmp_path / "out", unfiltered(max_reject_share=0.2))
    assert metrics["input_bad_enhanced"] == 1 and metrics["input_types_not_parallel"] == 1
    assert metrics["input_unknown_type"] == 1 and metrics["input_not_an_object"] == 1
    assert metrics["reject_unchanged"] == 1 and metrics["n_negatives"] == 22
    kept = json.loads((tmp_path / "out" / "negatives.json").read_text())
    assert kept[0] == {
        "image_id": "1",
        "original": "a red car",
        "enhanced": ["a blue car"],
        "types": ["replace_adjectives"],
    }


def test_unknown_generator_and_missing_input_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown generator"):
        generate(str(tmp_path), tmp_path / "out", unfiltered(generator="gpt"))
    with pytest.raises(UserError, match=r"without captions\.parquet"):
        generate(str(tmp_path), tmp_path / "out", unfiltered(), Rules(RuleGenerator(), 0))


def test_the_blind_filter_runs_on_real_captions_or_the_run_says_why_not(tmp_path, rules, flickr_captions):
    data = dataset(tmp_path / "few", CAPTIONS)
    with pytest.raises(UserError, match="reference-captions"):  # never a silent run without it
        generate(str(data), tmp_path / "out", NegativesConfig(), Rules(rules, 0))
    assert not (tmp_path / "out").exists()
    reference = tmp_path / "reference.tsv"
    reference.write_text("\n".join(flickr_captions.read_text().splitlines()[:1200]) + "\n")
    config = NegativesConfig(types=("replace_nouns",), reference=str(reference))
    metrics = generate(str(data), tmp_path / "out", config, Rules(rules, 0))
    assert metrics["blind_model"] is True and metrics["reference"] == str(reference)
    assert metrics["profile"] == "real" and metrics["candidates"] == 48


def test_a_world_dataset_takes_the_worlds_settings_and_real_captions_theirs(tmp_path, rules):
    world = dataset(tmp_path / "world", CAPTIONS)
    (world / "dataset.json").write_text(json.dumps({"kind": "image-captions", "world": {"objects": []}}))
    imported = dataset(tmp_path / "imported", CAPTIONS)
    (imported / "dataset.json").write_text(json.dumps({"kind": "image-captions", "source": "coco"}))
    config = NegativesConfig(types=TYPES)
    settings = {kind: resolve(config, str(folder)) for kind, folder in (("world", world), ("real", imported))}
    assert [settings["world"].profile, settings["real"].profile] == ["world", "real"]
    assert (settings["world"].candidates, settings["world"].filter.blind) == (0, False)
    assert (settings["real"].candidates, settings["real"].filter.blind) == (48, True)
    # with invert_relations asked, a relation replace never inverts: an inversion is given once
    assert not settings["real"].filter.inverse_relations
    assert resolve(NegativesConfig(types=("replace_relations",)), str(imported)).filter.inverse_relations
    assert resolve(NegativesConfig(profile="world"), str(imported)).profile == "world"
    metrics = generate(str(world), tmp_path / "out", config, Rules(rules, 0))  # four captions: no filter
    assert (metrics["profile"], metrics["blind_model"], metrics["candidates"]) == ("world", False, 0)


MORE = [*CAPTIONS, "a small cat sleeping on a wooden table", "three children playing with a red ball"]
TIMING = ("seconds", "captions_per_s", "resumed", "shards")


def test_a_shard_takes_every_nth_chunk():
    keys = list("abcdefg")
    assert shard_keys(keys, Shard(0, 2), 2) == ["a", "b", "e", "f"]
    assert shard_keys(keys, Shard(1, 2), 2) == ["c", "d", "g"]


def test_shards_merge_into_the_one_run_output(tmp_path, rules):
    data = dataset(tmp_path / "data", MORE)
    config = unfiltered(per_type=2, chunk=2)
    one = generate(str(data), tmp_path / "one", config, Rules(rules, 0))
    parts, asked = [str(tmp_path / f"s{i}") for i in range(2)], []
    for i, part in enumerate(parts):
        counting = Counting(Rules(rules, 0))
        generate(str(data), part, config, counting, shard=Shard(i, 2))
        asked.append(sorted(set(counting.asked)))
    assert asked == [["img0", "img1", "img4", "img5"], ["img2", "img3"]]  # chunks 0, 2 and chunk 1
    assert main(["negatives", "merge", *parts, "--out", str(tmp_path / "merged")]) == 0

    def records(folder):
        found = read_negatives(str(folder), Rejects())
        return sorted((r.image_id, r.original, tuple(r.enhanced), tuple(r.types)) for r in found)

    assert records(tmp_path / "merged") == records(tmp_path / "one")
    merged = json.loads((tmp_path / "merged" / "metrics.json").read_text())
    assert merged["shards"] == 2
    assert {k: v for k, v in merged.items() if k not in TIMING} == {
        k: v for k, v in one.items() if k not in TIMING
    }
    with pytest.raises(UserError, match="more than one shard"):
        merge_negatives([parts[0], parts[0]], str(tmp_path / "twice"))


def test_real_captions_default_to_the_llm_for_its_types_and_say_when_it_cannot_run(
    tmp_path, monkeypatch, capsys
):
    from compclip.negatives import profile

    real = resolve(NegativesConfig(types=TYPES), str(tmp_path / "captions.tsv"))
    world = resolve(NegativesConfig(types=TYPES, profile="world"), str(tmp_path / "captions.tsv"))
    monkeypatch.setattr(profile, "gpu", lambda: True)
    plan, why = profile.generators(real)
    assert why is None and [t for t in TYPES if plan[t] == "llm"] == [
        "reshuffle",
        "swap_nouns",
        "replace_nouns",
    ]
    assert set(profile.generators(world)[0].values()) == {"rules"}  # the world keeps its rules
    assert set(profile.generators(replace(real, generator="llm"))[0].values()) == {"llm"}
    assert set(profile.generators(replace(real, generator="rules"))[0].values()) == {"rules"}
    monkeypatch.setattr(profile, "gpu", lambda: False)
    plan, why = profile.generators(real)
    assert (
        set(plan.values()) == {"rules"} and "no GPU" in why and "reshuffle, swap_nouns, replace_nouns" in why
    )
    assert profile.generators(replace(real, llm=replace(real.llm, device="cpu")))[0]["swap_nouns"] == "llm"

    data = dataset(tmp_path / "data", CAPTIONS)
    params = tmp_path / "params.yaml"
    params.write_text("negatives: {filter: {blind: false}, types: [swap_nouns]}\n")
    assert (
        main(["negatives", "generate", str(data), "--out", str(tmp_path / "out"), "--params", str(params)])
        == 0
    )
    assert "note: no GPU for the LLM" in capsys.readouterr().out  # said, and recorded in the metrics
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["generator_swap_nouns"] == "rules" and "no GPU" in saved["llm_fallback"]
