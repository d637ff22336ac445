"""Pixel-level L1 to the real Sentinel-2 target."""

from __future__ import annotations

from torch import Tensor

from axion_terratorch.functional import spectral_l1_loss
from axion_terratorch.losses.composite import TermModule


class SpectralLoss(TermModule):
    """Masked L1 between output and target reflectance, (B, C, H, W) each; 0 without a target. Scalar."""

    def term(self, output: Tensor, target: Tensor | None, mask: Tensor | None) -> Tensor:
        """Mean absolute error over valid pixels."""
        return output.new_zeros(()) if target is None else spectral_l1_loss(output, target, mask)
