"""The blind model's language model: a distribution over the vocabulary for both smoothings, and a
leave-one-out score that is exactly the model trained without the caption."""

from __future__ import annotations

import pytest

from compclip.negatives.blind import START, BlindModel, image_of

SMOOTHINGS = ("absolute", "kneser_ney")


@pytest.fixture(scope="module")
def corpus(flickr_captions) -> list[str]:
    return [line.split("\t", 1)[1] for line in flickr_captions.read_text().splitlines()[:300]]


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_probabilities_sum_to_one_over_the_vocabulary(corpus, order, smoothing):
    model = BlindModel(corpus[:120], order, smoothing=smoothing)
    words = [w for (w,), count in model.counts[1].items() if count] + ["<unknown>"]
    assert len(words) == model.vocabulary
    known = model._words(corpus[0])
    histories = [
        (START,) * (order - 1),  # every caption's start
        tuple(known[order - 1 : 2 * order - 2]),  # seen
        ("zebroid",) * (order - 1),  # unseen: down to the unigram
        ("zebroid", "dog")[-(order - 1) :],  # unseen above a seen lower order
    ]
    for history in histories:
        assert sum(model._probability((*history, w)) for w in words) == pytest.approx(1.0, abs=1e-9)


def test_kneser_ney_backs_off_to_distinct_contexts_not_counts():
    # "francisco" follows only "san" but as often as "dog" follows many words: as a backoff after an
    # unseen history Kneser-Ney ranks it below "dog", absolute discounting above
    corpus = ["san francisco"] * 6 + ["a dog", "the dog", "one dog", "big dog"]
    for smoothing, francisco_first in (("absolute", True), ("kneser_ney", False)):
        model = BlindModel(corpus, order=2, smoothing=smoothing)
        francisco, dog = (model._probability(("cat", w)) for w in ("francisco", "dog"))
        assert (francisco > dog) == francisco_first, smoothing


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_a_held_out_caption_scores_as_under_a_model_trained_without_it(corpus, order, smoothing):
    model = BlindModel(corpus, order, smoothing=smoothing)
    negatives = [*corpus[-5:], "a dog flies over the moon", "zebroid"]
    for k in (0, 7, 42):
        twin = BlindModel(corpus[:k] + corpus[k + 1 :], order, smoothing=smoothing)
        expected = [twin.score(corpus[k]) - twin.score(n) for n in negatives]
        assert model.gaps(corpus[k], negatives) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    again = BlindModel(corpus, order, smoothing=smoothing)  # every count restored after holding out
    for table in ("counts", "continuation", "context", "followers"):
        assert getattr(model, table) == getattr(again, table), table
    assert (model.total, model.vocabulary) == (again.total, again.vocabulary)


def test_an_unknown_smoothing_is_refused():
    with pytest.raises(ValueError, match="smoothing"):
        BlindModel(["a dog"], smoothing="witten_bell")


def test_every_caption_of_the_image_is_left_out(corpus):
    images = [f"img{i // 5}" for i in range(len(corpus))]  # Flickr8k: five captions an image, in order
    model = BlindModel(corpus, 2, images=images)
    negatives = ["a dog flies over the moon", corpus[7]]
    twin = BlindModel(corpus[:5] + corpus[10:], 2)  # without image 1's five captions
    expected = [twin.score(corpus[6]) - twin.score(n) for n in negatives]
    assert model.gaps(corpus[6], negatives, image="img1") == pytest.approx(expected, rel=1e-12)
    assert model.gaps(corpus[6], negatives) != pytest.approx(expected)  # only the caption itself left out
    assert model.counts == BlindModel(corpus, 2).counts  # every count restored


def test_an_image_id_without_its_caption_number():
    assert [image_of(i) for i in ("1000268201_693b08cb0e.jpg#3", "img7", "a#b")] == [
        "1000268201_693b08cb0e.jpg",
        "img7",
        "a#b",
    ]
