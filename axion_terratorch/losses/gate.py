"""The gate term of :class:`~axion_terratorch.tasks.SARGroundingTask`: teach a per-pixel gate where the
Stage 2 errors are."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def gate_loss(gate: Tensor, errors: Tensor, valid: Tensor | None = None) -> Tensor:
    """Binary cross-entropy between a per-pixel gate and the error mask, mean over valid pixels."""
    weight = torch.ones_like(gate) if valid is None else valid.to(gate.dtype)
    bce = nn.functional.binary_cross_entropy(
        gate.float().clamp(1e-6, 1 - 1e-6), errors.float(), reduction="none"
    )
    return (bce * weight).sum() / weight.sum().clamp_min(1)
