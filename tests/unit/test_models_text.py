import pytest
import torch

from compclip.models import create_model
from compclip.models.text import encode_text, pooled_positions, prefix_layout

CAPTIONS = [
    "a cube.",
    "a small red ball to the left of a large blue ring.",
    "a small blue ball to the left of a large red ring.",  # a hard negative: shares "a small"
    "a small red ball to the left of a large blue ring.",  # a duplicate
    "a star",
]


@pytest.fixture(scope="module")
def bundle():
    return create_model("compclip-tiny-rn", seed=0)


@pytest.fixture(scope="module")
def tiny(bundle):
    return bundle.model.eval(), bundle.tokenizer(CAPTIONS)


def test_layout_of_a_hand_built_batch():
    tokens = torch.tensor([[1, 5, 6, 9, 0], [1, 5, 7, 9, 0], [1, 5, 6, 9, 0], [1, 8, 9, 0, 0]])
    layout = prefix_layout(tokens, torch.tensor([3, 3, 3, 2]))
    # distinct prefixes: (1) | (1 5) (1 8) | (1 5 6) (1 5 7) (1 8 9) | (1 5 6 9) (1 5 7 9)
    assert len(layout.rows) == 8
    assert torch.equal(layout.index[0], layout.index[2])  # a duplicate caption is free
    assert torch.equal(layout.index[0, :2], layout.index[1, :2]) and layout.index[0, 2] != layout.index[1, 2]
    assert layout.index[3, 0] == layout.index[0, 0] and layout.index[3, 1] != layout.index[0, 1]
    assert layout.index[3, 3:].eq(0).all()  # past its end


def test_layout_slots_are_the_distinct_prefixes():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, 4, (200, 9), generator=g)  # a 3-word vocabulary: many shared prefixes
    ends = torch.randint(2, 9, (200,), generator=g)
    layout = prefix_layout(tokens, ends)
    pairs = zip(tokens.tolist(), ends.tolist(), strict=True)
    prefixes = {tuple(row[: t + 1]) for row, end in pairs for t in range(end + 1)}
    assert len(layout.rows) == len(prefixes)
    for i, end in enumerate(ends.tolist()):
        slots = layout.index[i, : end + 1]
        assert torch.equal(layout.cols[slots], torch.arange(end + 1))
        for t, s in enumerate(slots.tolist()):  # the slot's owner has the same prefix
            assert torch.equal(tokens[layout.rows[s], : t + 1], tokens[i, : t + 1])


def test_shared_prefix_features_equal_the_full_ones(tiny):
    model, tokens = tiny
    ends = pooled_positions(model, tokens)
    assert torch.equal(ends, (tokens != 0).sum(dim=1) - 1)
    with torch.no_grad():
        for normalize in (False, True):
            full = model.encode_text(tokens, normalize=normalize)
            assert torch.allclose(encode_text(model, tokens, normalize=normalize), full, atol=1e-5)


def test_shared_prefix_gradients_equal_the_full_ones(tiny):
    model, tokens = tiny
    weights = torch.linspace(-1, 1, len(CAPTIONS)).unsqueeze(1)  # each caption's feature counts differently
    grads = []
    for encode in (lambda: model.encode_text(tokens), lambda: encode_text(model, tokens)):
        model.zero_grad()
        (encode().pow(2) * weights).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    full, shared = grads
    assert full.keys() == shared.keys() and "positional_embedding" in full
    for name in full:
        scale = full[name].abs().max().item()
        torch.testing.assert_close(shared[name], full[name], rtol=1e-4, atol=1e-5 * scale, msg=name)


def test_towers_where_sharing_is_not_exact_use_encode_text(tiny):
    model, tokens = tiny
    model.text_pool_type = "last"  # the last column's token: cutting would change which one
    try:
        assert pooled_positions(model, tokens) is None
        with torch.no_grad():
            assert torch.equal(encode_text(model, tokens), model.encode_text(tokens))
    finally:
        model.text_pool_type = "argmax"


def test_gradients_are_deterministic_across_runs(bundle):
    """Resumed training must end with the same weights: no order-dependent accumulation on CPU."""
    model = bundle.model
    g = torch.Generator().manual_seed(0)
    words = ["a", "red", "blue", "cube", "ball", "left", "of", "above", "the", "small"]
    captions = [" ".join(words[j] for j in torch.randint(0, 10, (8,), generator=g)) for _ in range(300)]
    tokens = bundle.tokenizer(captions)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = []
        for _ in range(3):
            model.zero_grad()
            encode_text(model, tokens).sum().backward()
            grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    finally:
        torch.set_num_threads(threads)
    for other in grads[1:]:
        assert all(torch.equal(a, b) for a, b in zip(grads[0], other, strict=True))
