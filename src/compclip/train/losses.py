"""The training losses: CLIP, NegCLIP and DeGLA (Hu et al. 2025, arXiv 2504.16801).

Embeddings are L2-normalised. Texts come as ``positive`` (one caption per image, ``N x D``)
and ``negative`` (the ``K`` hard negatives of each image, image-major: rows ``i*K .. i*K+K-1``
belong to image ``i``, ``N*K x D``). Every loss is a pure function over these tensors;
:class:`TrainingLoss` combines them for a ``method`` and takes a ``gather`` callable that
concatenates a tensor over processes (identity on one process), so one process and many
compute the same thing over the global batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from compclip.config import Checked, NonNegativeFloat, PositiveFloat
from compclip.methods import METHODS

Gather = Callable[[torch.Tensor], torch.Tensor]


def identity(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


@dataclass(frozen=True)
class LossConfig(Checked):
    """Loss weights and options; the defaults are the paper's."""

    global_weight: NonNegativeFloat = 1.0
    igc_weight: NonNegativeFloat = 0.1
    tgc_weight: NonNegativeFloat = 0.1
    distill_weight: NonNegativeFloat = 0.005
    tgc_temperature: PositiveFloat = 0.1
    distill_reduction: str = "sum"  # "sum" (paper) or "mean" (per embedding)
    tgc_tiled_negatives: bool = False  # the released code's choice of other captions' negatives


class Embeddings(NamedTuple):
    """Normalised embeddings of one batch; ``negative`` is None for plain CLIP."""

    image: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor | None = None


def _targets(n: int, device: torch.device) -> torch.Tensor:
    return torch.arange(n, device=device)


def clip_loss(image: torch.Tensor, positive: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over the batch (Radford et al.)."""
    logits = logit_scale * image @ positive.T
    labels = _targets(len(image), image.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def negclip_loss(
    image: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """NegCLIP: each image against all positives and negatives; text-to-image over positives only."""
    labels = _targets(len(image), image.device)
    image_to_text = logit_scale * image @ torch.cat([positive, negative]).T
    text_to_image = logit_scale * positive @ image.T
    return (F.cross_entropy(image_to_text, labels) + F.cross_entropy(text_to_image, labels)) / 2


def _own_candidates(first: torch.Tensor, negative: torch.Tensor, n: int, tiled: bool = False) -> torch.Tensor:
    """``N x (1+K) x D``: ``first[i]`` followed by the K negatives picked for row ``i``."""
    k = len(negative) // n
    negs = negative.view(k, n, -1).transpose(0, 1) if tiled else negative.view(n, k, -1)
    return torch.cat([first[:, None], negs], dim=1)


def _first_is_right(
    anchor: torch.Tensor, candidates: torch.Tensor, scale: torch.Tensor | float
) -> torch.Tensor:
    logits = scale * torch.einsum("nd,nkd->nk", anchor, candidates)
    return F.cross_entropy(logits, torch.zeros(len(anchor), dtype=torch.long, device=anchor.device))


def igc_loss(
    image: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Image-grounded contrast: each image's positive against only its own K negatives."""
    return _first_is_right(image, _own_candidates(positive, negative, len(image)), logit_scale)


def tgc_loss(
    positive: torch.Tensor,
    teacher_positive: torch.Tensor,
    negative: torch.Tensor,
    temperature: float = 0.1,
    tiled: bool = False,
) -> torch.Tensor:
    """Text-grounded contrast: anchor the student's caption, positive the teacher's embedding of it,
    negatives the student's embeddings of that caption's own K negatives.

    ``tiled=True`` reproduces the released code, which takes negative ``j*N + i`` for caption ``i``
    (negatives of other captions).
    """
    candidates = _own_candidates(teacher_positive.detach(), negative, len(positive), tiled)
    return _first_is_right(positive, candidates, 1.0 / temperature)


def distill_loss(
    student: list[torch.Tensor], teacher: list[torch.Tensor], reduction: str = "sum"
) -> torch.Tensor:
    """Squared distance between student and teacher embeddings: summed (paper) or mean per embedding."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"distill_reduction must be 'sum' or 'mean', not {reduction!r}")
    total = sum(((s - t.detach()) ** 2).sum() for s, t in zip(student, teacher, strict=True))
    return total if reduction == "sum" else total / sum(len(s) for s in student)


class TrainingLoss(nn.Module):
    """The loss of one ``method`` (``clip``, ``negclip`` or ``degla``) over the gathered batch.

    ``forward`` returns a dict with ``total`` and each weighted part's unweighted value.
    """

    def __init__(self, method: str, config: LossConfig = LossConfig(), gather: Gather = identity) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        self.method = method
        self.config = config
        self.gather = gather

    @property
    def needs_negatives(self) -> bool:
        return self.method != "clip"

    @property
    def needs_teacher(self) -> bool:
        return self.method == "degla"

    def _gather(self, embeddings: Embeddings) -> Embeddings:
        return Embeddings(*(None if t is None else self.gather(t) for t in embeddings))

    def forward(
        self, student: Embeddings, logit_scale: torch.Tensor, teacher: Embeddings | None = None
    ) -> dict[str, torch.Tensor]:
        cfg = self.config
        s = self._gather(student)
        if self.method == "clip":
            loss = clip_loss(s.image, s.positive, logit_scale)
            return {"total": cfg.global_weight * loss, "global": loss}
        if s.negative is None:
            raise ValueError(f"method {self.method!r} needs negative embeddings")
        parts = {"global": negclip_loss(s.image, s.positive, s.negative, logit_scale)}
        weights = {"global": cfg.global_weight}
        if self.method == "degla":
            if teacher is None:
                raise ValueError("method 'degla' needs the teacher's embeddings")
            t = self._gather(teacher)
            parts["igc"] = igc_loss(s.image, s.positive, s.negative, logit_scale)
            parts["tgc"] = tgc_loss(
                s.positive, t.positive, s.negative, cfg.tgc_temperature, cfg.tgc_tiled_negatives
            )
            parts["distill"] = distill_loss(list(s), list(t), cfg.distill_reduction)
            weights |= {"igc": cfg.igc_weight, "tgc": cfg.tgc_weight, "distill": cfg.distill_weight}
        total = sum(weights[name] * value for name, value in parts.items())
        return {"total": total, **parts}
