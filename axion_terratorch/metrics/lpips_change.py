"""LPIPS change between the Stage 2 input and the grounded output."""

from __future__ import annotations

from torch import Tensor

from axion_terratorch.lpips import LPIPSDistance
from axion_terratorch.metrics.accumulators import PerSampleMean


class LPIPSChange(PerSampleMean):
    """Mean LPIPS between ``preds`` and ``reference`` over samples (seed target 0.08-0.12, < 0.15).

    ``update(preds, reference, mask=None)`` with (B, C, H, W) reflectance in ``lpips.bands``.

    Args:
        lpips: The :class:`~axion_terratorch.lpips.LPIPSDistance` that scores each sample (its bands,
            backbone and the same clear error offline), e.g. ``LPIPSChange(LPIPSDistance(bands))``.
    """

    higher_is_better = False
    is_differentiable = False

    def __init__(self, lpips: LPIPSDistance) -> None:
        super().__init__()
        self.lpips = lpips
        self.bands = lpips.bands

    def update(self, preds: Tensor, reference: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the LPIPS of each sample."""
        self.accumulate(self.lpips.per_sample(preds, reference, mask))
