"""Text features computed once per distinct caption prefix, on real tokens only.

open_clip pads every caption to the context length (77 for the OpenAI towers) and runs the text
transformer over every position of every caption. In a causal tower pooled at the end-of-text
token, a position's state depends only on the tokens up to it, so

- positions after a caption's end-of-text token cannot change its feature: they are not computed;
- captions of a batch that begin with the same tokens share the states of that prefix: it is
  computed once. A hard negative shares its positive's prefix up to the first edited word, and
  templated captions ("A simple drawing: a ...") share their template.

Each layer's projections and MLP (nearly all of the work on short captions) run on the packed
distinct (prefix, position) tokens; attention runs per caption over keys gathered from them. The
features and their gradients equal ``model.encode_text``'s up to float rounding. Other towers
(no causal mask, other pooling, custom blocks or text towers) go through ``model.encode_text``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.transformer import ResidualAttentionBlock


@dataclass(frozen=True)
class PrefixLayout:
    """Where each caption's positions live among the packed distinct tokens.

    ``index[i, t]`` is the packed slot of caption ``i``'s position ``t`` (slot 0 past its end,
    where causality hides it); slot ``s`` holds the token of caption ``rows[s]`` at ``cols[s]``.
    """

    index: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor


def pooled_positions(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor | None:
    """Each caption's pooled (end-of-text) position, or None when the shared-prefix encoding of
    ``model``'s text tower would not be exact."""
    if not isinstance(model, CLIP) or model.attn_mask is None or model.transformer.grad_checkpointing:
        return None
    if not all(_plain_block(block) for block in model.transformer.resblocks):
        return None
    if model.text_pool_type == "argmax":  # the end-of-text token has the largest id
        return tokens.argmax(dim=-1)
    if model.text_pool_type == "eos" and model.text_eos_id is not None:
        return (tokens == model.text_eos_id).int().argmax(dim=-1)
    return None


def _plain_block(block: torch.nn.Module) -> bool:
    attn = block.attn
    return (
        type(block) is ResidualAttentionBlock
        and not hasattr(block, "ln_1_kv")
        and attn._qkv_same_embed_dim
        and attn.in_proj_bias is not None
        and attn.bias_k is None
        and attn.dropout == 0
    )


def prefix_layout(tokens: torch.Tensor, ends: torch.Tensor) -> PrefixLayout:
    """The packing of ``tokens`` (N x L) in which each distinct prefix is one run of slots.

    Captions are ordered lexicographically; a position belongs to the first caption of its run of
    equal prefixes (its owner), and only owners' positions up to some caption's end get slots.
    """
    n, length = tokens.shape
    order = torch.arange(n, device=tokens.device)
    for t in reversed(range(length)):  # stable sorts from the last column: lexicographic order
        order = order[torch.sort(tokens[order, t], stable=True).indices]
    ranked = tokens[order]
    same = torch.zeros_like(ranked, dtype=torch.bool)
    same[1:] = (ranked[1:] == ranked[:-1]).int().cumprod(dim=1).bool()  # same prefix as the previous
    ranks = torch.arange(n, device=tokens.device).unsqueeze(1).expand(n, length)
    owner = torch.empty_like(ranked)
    owner[order] = order[torch.where(same, 0, ranks).cummax(dim=0).values]
    cols = torch.arange(length, device=tokens.device).expand(n, length)
    needed = cols <= ends.unsqueeze(1)
    computed = torch.zeros_like(needed)
    computed[owner[needed], cols[needed]] = True
    slots = computed.flatten().cumsum(0).sub(1).view(n, length)
    index = torch.where(needed, slots[owner, cols], 0)
    rows, cols = computed.nonzero(as_tuple=True)
    return PrefixLayout(index, rows, cols)


def _block(
    block: ResidualAttentionBlock, x: torch.Tensor, layout: PrefixLayout, mask: torch.Tensor
) -> torch.Tensor:
    """One residual attention block over the packed tokens ``x`` (P x D)."""
    attn = block.attn
    n, length = layout.index.shape
    width, heads = x.shape[-1], attn.num_heads
    qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    qkv = qkv.index_select(0, layout.index.flatten())  # each caption's positions, from their slots
    q, k, v = qkv.view(n, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    # plain attention: on short captions faster on CPU than the fused kernels (measured)
    out = torch.softmax(q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5 + mask, dim=-1) @ v
    out = out.transpose(1, 2).reshape(n * length, width).index_select(0, layout.rows * length + layout.cols)
    x = x + block.ls_1(attn.out_proj(out))
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def encode_text(model: torch.nn.Module, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """``model.encode_text(tokens, normalize)``, each distinct caption prefix computed once."""
    ends = pooled_positions(model, tokens)
    if ends is None:
        return model.encode_text(tokens, normalize=normalize)
    length = int(ends.max()) + 1
    tokens = tokens[:, :length]
    layout = prefix_layout(tokens, ends)
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens[layout.rows, layout.cols]).to(cast)
    x = x + model.positional_embedding.index_select(0, layout.cols).to(cast)  # deterministic backward
    mask = model.attn_mask[:length, :length].to(cast)
    for block in model.transformer.resblocks:
        x = _block(block, x, layout, mask)
    x = model.ln_final(x.index_select(0, layout.index.gather(1, ends.unsqueeze(1)).squeeze(1)))
    if isinstance(model.text_projection, torch.nn.Linear):
        x = model.text_projection(x)
    elif model.text_projection is not None:
        x = x @ model.text_projection
    return F.normalize(x, dim=-1) if normalize else x
