"""The EMA teacher: a frozen copy of the student that follows it slowly."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_teacher(student: nn.Module) -> nn.Module:
    """A copy of ``student`` that gradients never reach."""
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """``teacher = alpha * teacher + (1 - alpha) * student`` for parameters; buffers are copied.

    Buffers (BatchNorm running statistics) follow the student exactly, so the teacher
    normalises like the student does.
    """
    teacher_params = list(teacher.parameters())
    student_params = [p.detach() for p in student.parameters()]
    torch._foreach_lerp_(teacher_params, student_params, 1.0 - alpha)
    for mine, theirs in zip(teacher.buffers(), student.buffers(), strict=True):
        mine.copy_(theirs)
