"""The device a stage runs on, chosen in one place: ``auto``, ``cpu`` or ``cuda``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compclip.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """``device`` as a torch device: ``auto`` is cuda when one is available, else cpu.

    Any other name, or ``cuda`` on a machine without one, is refused.
    """
    import torch  # here: a command's parser imports DEVICES without paying for torch

    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device cuda given but no CUDA device is available")
    return torch.device(device)
