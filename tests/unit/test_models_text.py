import pytest
import torch

from compclip.models import create_model
from compclip.models.text import encode_text, pooled_end

CAPTIONS = ["a cube.", "a small red ball to the left of a large blue ring.", "a star"]


@pytest.fixture(scope="module")
def tiny():
    bundle = create_model("compclip-tiny-rn", seed=0)
    return bundle.model.eval(), bundle.tokenizer(CAPTIONS)


def test_cut_text_features_equal_the_full_ones(tiny):
    model, tokens = tiny
    end = pooled_end(model, tokens)
    assert end == int((tokens != 0).sum(dim=1).max()) < tokens.shape[1]  # the cut path is taken
    with torch.no_grad():
        for normalize in (False, True):
            full = model.encode_text(tokens, normalize=normalize)
            assert torch.allclose(encode_text(model, tokens, normalize=normalize), full, atol=1e-5)


def test_cut_text_gradients_equal_the_full_ones(tiny):
    model, tokens = tiny
    grads = []
    for encode in (lambda: model.encode_text(tokens), lambda: encode_text(model, tokens)):
        model.zero_grad()
        encode().pow(2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    full, cut = grads
    assert full.keys() == cut.keys() and "positional_embedding" in full
    for name in full:
        scale = full[name].abs().max().item()
        torch.testing.assert_close(cut[name], full[name], rtol=1e-4, atol=1e-5 * scale, msg=name)


def test_towers_where_cutting_is_not_exact_use_encode_text(tiny):
    model, tokens = tiny
    model.text_pool_type = "last"  # the last column's token: cutting would change which one
    try:
        assert pooled_end(model, tokens) is None
        with torch.no_grad():
            assert torch.equal(encode_text(model, tokens), model.encode_text(tokens))
    finally:
        model.text_pool_type = "argmax"
