"""The world's vocabulary, sampler, layout, captions and renderer."""

from __future__ import annotations

import numpy as np
import pytest

from compclip.errors import UserError
from compclip.pmi.concepts import ConceptRules
from compclip.world import (
    Box,
    CorpusSampler,
    Description,
    Renderer,
    Scene,
    Thing,
    accessory_probs,
    holds,
    load_world,
)
from compclip.world.scene import related


@pytest.fixture(scope="module")
def world():
    return load_world()


@pytest.fixture(scope="module")
def items(world):
    sampler = CorpusSampler(world)
    return [sampler.item(0, i) for i in range(400)]


def test_vocabulary_sizes(world):
    assert len(world.objects) >= 8
    assert len(world.colors) == 8
    assert len(world.sizes) == 2
    assert set(world.relations) == {"left of", "right of", "above", "below"}
    assert len(world.accessories) >= 20


def test_every_word_survives_concept_extraction(world):
    rules = ConceptRules()
    words = [*world.objects, *world.colors, *world.sizes, *world.accessories]
    assert [rules.concepts(w) for w in words] == [[w] for w in words]


def test_captions_carry_the_scene_concepts_and_no_others(world, items):
    rules = ConceptRules()
    vocabulary = {*world.objects, *world.colors, *world.sizes, *world.accessories}
    templates, unmentioned = set(), 0
    for scene, caption in items:
        concepts = set(rules.concepts(caption))
        objects = {t.kind for t in scene.things if t.color is not None}
        accessories = {t.kind for t in scene.things if t.color is None}
        assert objects <= concepts, caption  # objects are always named
        unmentioned += not accessories <= concepts  # accessories only with their mention probability
        truth = {w for t in scene.things for w in (t.kind, t.color, t.size) if w is not None}
        assert concepts & vocabulary <= truth, caption
        templates.add(caption.split(" a")[0])
    with_accessory = sum(any(t.color is None for t in s.things) for s, _ in items)
    assert abs(unmentioned / with_accessory - (1 - world.mention.accessory)) < 0.12
    assert len(templates) >= 10  # varied wording


def test_same_seed_same_items_other_seed_differs(world, items):
    sampler, renderer = CorpusSampler(world), Renderer(world)
    for i in (0, 7, 123):
        scene, caption = sampler.item(0, i)
        assert (scene, caption) == items[i]
        assert np.array_equal(renderer.render(scene), Renderer(world).render(items[i][0]))
    other = [sampler.item(1, i) for i in range(20)]
    assert [c for _, c in other] != [c for _, c in items[:20]]


def test_layout_makes_the_relation_true_and_only_it(world, items):
    s = world.image_size
    for scene, _ in items:
        for box in scene.boxes:
            assert 0 <= box.x <= s - box.side and 0 <= box.y <= s - box.side
        d = scene.description
        if d.second is None:
            continue
        first, second = scene.boxes
        assert related(world, d.relation, first, second)
        for other in set(world.relations) - {d.relation}:
            assert not related(world, other, first, second), (d.relation, other, scene.boxes)


def test_holds_checks_kinds_attributes_and_relation(world):
    cube, key = Thing("cube", "red", "large"), Thing("key")
    scene = Scene(Description(cube, key, "left of"), (Box(30, 10, 29), Box(5, 15, 15)), (40, 40, 40))
    assert holds(world, Description(Thing("cube", "red"), key, "left of"), scene)
    assert holds(world, Description(Thing("key"), Thing("cube"), "right of"), scene)
    assert holds(world, Description(Thing("cube")), scene)
    assert not holds(world, Description(Thing("cube", "blue"), key, "left of"), scene)
    assert not holds(world, Description(cube, key, "above"), scene)
    assert not holds(world, Description(cube, Thing("bell")), scene)


def test_render_draws_each_thing_in_its_colour(world, items):
    renderer = Renderer(world)
    for scene, _ in items[:50]:
        image = renderer.render(scene)
        assert image.shape == (world.image_size, world.image_size, 3) and image.dtype == np.uint8
        for thing, box in zip(scene.things, scene.boxes, strict=True):
            patch = image[box.y : box.y + box.side, box.x : box.x + box.side].reshape(-1, 3).astype(int)
            color = renderer.color(thing).astype(int)
            share = np.mean(np.abs(patch - color).max(axis=1) <= 2)
            assert share > 0.05, (thing, share)


def test_accessory_choice_is_skewed_with_pairs_that_never_meet(world):
    probs = accessory_probs(world)
    n = len(world.accessories)
    assert np.allclose(probs.sum(axis=1), 1)
    assert ((probs == 0).sum(axis=1) == round(world.skew.never_share * n)).all()
    assert (probs.max(axis=1) / probs[probs > 0].min() > 10).all()
    assert len({tuple(np.argsort(row)) for row in probs}) == len(world.objects)  # per-object rankings


def test_overrides_change_the_world_and_typos_fail():
    steep = load_world(overrides={"skew": {"zipf_exponent": 3.0, "never_share": 0.5}, "image_size": 96})
    assert steep.skew.zipf_exponent == 3.0 and steep.image_size == 96 and steep.skew.seed == 0
    assert (accessory_probs(steep) == 0).sum() > (accessory_probs(load_world()) == 0).sum()
    with pytest.raises(UserError, match="zipf"):
        load_world(overrides={"skew": {"zipf": 2}})
    with pytest.raises(UserError, match="no world preset"):
        load_world("nope")
