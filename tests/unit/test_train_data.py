"""Reading datasets and negatives: bad records skipped and counted, K negatives, batch augmentation."""

import json

import numpy as np
import pytest
import torch
from test_train_fixtures import write_dataset

from compclip.errors import UserError
from compclip.models import create_model
from compclip.negatives.io import read_negatives
from compclip.rejects import Rejects
from compclip.train.data import (
    BatchAugment,
    DataConfig,
    PairDataset,
    decode_images,
    load_pairs,
    pick_negatives,
    usable_negatives,
)


@pytest.fixture(scope="module")
def tokenizer():
    return create_model("compclip-tiny-rn").tokenizer


def test_pick_negatives_seeded_choice_and_padding():
    first = pick_negatives("img1", 7, 4, seed=0)
    assert first == pick_negatives("img1", 7, 4, seed=0)
    assert len(set(first)) == 4 and set(first) <= set(range(7))
    assert any(pick_negatives("img1", 7, 4, seed=s) != first for s in range(1, 5))
    assert any(pick_negatives("img1", 7, 4, seed=0, draw=d) != first for d in range(1, 5))
    assert pick_negatives("img1", 4, 4, seed=0, draw=3) == [0, 1, 2, 3]
    assert pick_negatives("img1", 2, 4, seed=0) == [0, 1, 0, 1]


def test_malformed_and_unusable_negatives_are_counted(tmp_path):
    path = tmp_path / "negatives.json"
    records = [
        {
            "image_id": "a",
            "original": "a red cube",
            "enhanced": ["a blue cube", "", "a red cube"],
            "types": ["attribute", "object", "relation"],
        },
        {"original": "no id", "enhanced": [], "types": []},
        {"image_id": "b", "original": "x", "enhanced": ["y"], "types": []},
        "not a record",
    ]
    path.write_text(json.dumps(records))
    rejects = Rejects()
    found = usable_negatives(read_negatives(str(path), rejects, known_types=None), str(path), rejects)
    assert found == {("a", "a red cube"): ["a blue cube"]}
    assert rejects.as_dict() == {
        "missing_image_id": 1,
        "not_an_object": 1,
        "types_not_parallel": 1,
        "no valid object negative": 1,
        "no valid relation negative": 1,
    }


def test_each_caption_of_an_image_trains_against_its_own_negatives(tmp_path, tokenizer):
    folder, negatives = write_dataset(tmp_path, n=4, k=5, captions=3)  # COCO-style: 3 captions an image
    pairs = load_pairs(folder, tokenizer, 64, DataConfig(k_negatives=4), negatives)
    records = json.loads(negatives.read_text())  # in the order of the caption rows
    assert len(pairs.tokens) == 12 and len(pairs.images) == 4 and pairs.rejects.total == 0
    assert pairs.image_index.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    for i, record in enumerate(records):
        assert torch.equal(pairs.tokens[i], tokenizer([record["original"]])[0])
        own = pairs.negatives[pairs.negative_offsets[i] : pairs.negative_offsets[i + 1]]
        assert torch.equal(own, tokenizer(record["enhanced"]))


def test_negatives_of_a_caption_the_image_lacks_are_counted_not_used(tmp_path, tokenizer):
    folder, negatives = write_dataset(tmp_path, n=4, k=5, captions=2)
    records = json.loads(negatives.read_text())
    records[1]["original"] = "a caption this image does not have"
    records.append({**records[0], "image_id": "img999"})
    negatives.write_text(json.dumps(records))
    pairs = load_pairs(folder, tokenizer, 64, DataConfig(k_negatives=4, pad=True), negatives)
    assert len(pairs.tokens) == 7 and pairs.ids.count("img000") == 1
    assert pairs.rejects.as_dict() == {
        "negatives original matches no caption of its image": 1,
        "negatives for an unknown image_id": 1,
        "caption without any valid negative": 1,
    }


def test_load_pairs_tokenises_every_valid_negative(tmp_path, tokenizer):
    folder, negatives = write_dataset(tmp_path, n=6, k=5)
    pairs = load_pairs(folder, tokenizer, 64, DataConfig(k_negatives=4), negatives)
    assert pairs.images.shape == (6, 3, 64, 64) and pairs.images.dtype == torch.uint8
    assert pairs.tokens.shape == (6, 24) and pairs.negatives.shape == (30, 24)
    assert pairs.negative_offsets.tolist() == [0, 5, 10, 15, 20, 25, 30]
    assert pairs.rejects.total == 0


@pytest.mark.parametrize("redraw", [True, False])
def test_k_negatives_of_the_pair_redrawn_each_epoch(tmp_path, tokenizer, redraw):
    folder, negatives = write_dataset(tmp_path, n=6, k=5)
    config = DataConfig(k_negatives=3, redraw=redraw)
    pairs = load_pairs(folder, tokenizer, 64, config, negatives)
    dataset = PairDataset(pairs, config, seed=0)
    draws = []
    for epoch in range(4):
        dataset.set_epoch(epoch)
        draws.append([dataset[i]["negatives"] for i in range(len(dataset))])
    for i in range(len(dataset)):
        own = {tuple(row.tolist()) for row in pairs.negatives[5 * i : 5 * i + 5]}
        picked = [{tuple(row.tolist()) for row in epoch[i]} for epoch in draws]
        assert all(len(p) == 3 and p <= own for p in picked)
    differs = [not torch.equal(draws[0][i], draws[e][i]) for e in range(1, 4) for i in range(6)]
    assert any(differs) == redraw
    dataset.set_epoch(2)
    assert all(torch.equal(dataset[i]["negatives"], draws[2][i]) for i in range(6))


def test_too_few_negatives_refused_unless_padded(tmp_path, tokenizer):
    folder, negatives = write_dataset(tmp_path, n=6, k=5)
    records = json.loads(negatives.read_text())
    for record in records[:2]:
        record["enhanced"], record["types"] = record["enhanced"][:2], record["types"][:2]
    negatives.write_text(json.dumps(records))
    with pytest.raises(UserError, match=r"2 of 6 captions have fewer than K=4 valid negatives"):
        load_pairs(folder, tokenizer, 64, DataConfig(k_negatives=4), negatives)
    config = DataConfig(k_negatives=4, pad=True)
    pairs = load_pairs(folder, tokenizer, 64, config, negatives)
    assert len(pairs.tokens) == 6
    first = PairDataset(pairs, config)[0]["negatives"]
    assert torch.equal(first[0], first[2]) and not torch.equal(first[0], first[1])


def test_undecodable_image_skipped_and_counted(tmp_path, tokenizer):
    folder, _ = write_dataset(tmp_path, n=6)
    (folder / "images" / "002.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="image undecodable"):
        load_pairs(folder, tokenizer, 64, DataConfig(max_reject_share=0.1))
    pairs = load_pairs(folder, tokenizer, 64, DataConfig(max_reject_share=0.5))
    assert pairs.ids == ["img000", "img001", "img003", "img004", "img005"]
    assert pairs.rejects.as_dict() == {"image undecodable": 1}


def test_missing_dataset_file_is_a_user_error(tmp_path, tokenizer):
    with pytest.raises(UserError, match=r"captions\.parquet"):
        load_pairs(tmp_path, tokenizer, 64)


def test_augment_identity_crop_normalises_and_is_seeded_by_step():
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    same = BatchAugment(mean, std, scale=(1.0, 1.0), ratio=(1.0, 1.0))(images, step=7)
    expected = (images.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(
        1, 3, 1, 1
    )
    torch.testing.assert_close(same, expected, atol=1e-4, rtol=1e-4)
    augment = BatchAugment(mean, std, scale=(0.5, 0.9), seed=1)
    assert torch.equal(augment(images, 3), augment(images, 3))
    assert not torch.equal(augment(images, 3), augment(images, 4))
    assert augment(images, 3).shape == (3, 3, 16, 16)


def test_decode_images_covers_and_centre_crops_square_and_tuple_sizes(tmp_path):
    from PIL import Image

    pixels = np.zeros((40, 80, 3), dtype=np.uint8)  # height 40, width 80: left half black, right white
    pixels[:, 40:] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    for size in (20, (20, 20), (20, 10)):
        images, failed = decode_images([("wide.png", (tmp_path / "wide.png").read_bytes())], size)
        height, width = (size, size) if isinstance(size, int) else size
        assert not failed and images["wide.png"].shape == (3, height, width)
        row = images["wide.png"][0, height // 2]
        assert row[0] == 0 and row[-1] == 255  # the centre crop keeps both halves


def test_augment_crops_each_sample_alike_whatever_the_process_count():
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    augment = BatchAugment((0.5, 0.4, 0.3), (0.2, 0.25, 0.3), scale=(0.3, 0.9), seed=2)
    whole = augment(images, 5)
    halves = [augment(images[2 * p : 2 * p + 2], 5, process=p, processes=2) for p in range(2)]
    assert torch.equal(torch.cat(halves), whole)
    assert not torch.equal(augment(images[:2], 5, process=1, processes=2), whole[:2])
