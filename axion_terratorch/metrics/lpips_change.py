"""LPIPS change between the Stage 2 input and the grounded output."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.losses.lpips import LPIPSLoss, LPIPSNet
from axion_terratorch.metrics.sar_agreement import _PerSampleMean


class LPIPSChange(_PerSampleMean):
    """Mean LPIPS between ``preds`` and ``reference`` over samples (seed target 0.08-0.12, < 0.15).

    ``update(preds, reference, mask=None)`` with (B, C, H, W) reflectance. Uses the same LPIPS
    construction as :class:`~axion_terratorch.losses.LPIPSLoss` (and the same clear error offline).
    """

    higher_is_better = False
    is_differentiable = False

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        net: LPIPSNet = "alex",
        rgb_max: float = 0.3,
        pretrained_backbone: bool = True,
    ) -> None:
        super().__init__()
        self.lpips = LPIPSLoss(bands, net=net, rgb_max=rgb_max, pretrained_backbone=pretrained_backbone)
        self.bands = self.lpips.bands

    def update(self, preds: Tensor, reference: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the LPIPS of each sample."""
        self._accumulate(self.lpips.per_sample(preds, reference, mask))
