"""Text features computed only up to the longest caption of the batch.

open_clip pads every caption to the context length (77 for the OpenAI towers) and runs the text
transformer over all of it. In a causal tower pooled at the end-of-text token, positions after the
batch's last pooled token cannot change any pooled feature, so cutting them off is exact, and on
typical captions 2-4x cheaper. Other towers (no causal mask, other pooling, custom text towers)
go through ``model.encode_text`` unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.transformer import text_global_pool


def pooled_end(model: torch.nn.Module, tokens: torch.Tensor) -> int | None:
    """One past the batch's last pooled position, or None when cutting there would not be exact."""
    if not isinstance(model, CLIP) or model.attn_mask is None:
        return None
    if model.text_pool_type == "argmax":  # the end-of-text token has the largest id
        positions = tokens.argmax(dim=-1)
    elif model.text_pool_type == "eos" and model.text_eos_id is not None:
        positions = (tokens == model.text_eos_id).int().argmax(dim=-1)
    else:
        return None
    return int(positions.max()) + 1


def encode_text(model: torch.nn.Module, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """``model.encode_text(tokens, normalize)``, run over the columns up to :func:`pooled_end` only."""
    end = pooled_end(model, tokens)
    if end is None or end >= tokens.shape[1]:
        return model.encode_text(tokens, normalize=normalize)
    tokens = tokens[:, :end]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:end].to(cast)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:end, :end]))
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=model.text_eos_id)
    if isinstance(model.text_projection, torch.nn.Linear):
        x = model.text_projection(x)
    elif model.text_projection is not None:
        x = x @ model.text_projection
    return F.normalize(x, dim=-1) if normalize else x
