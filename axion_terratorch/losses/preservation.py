"""Losses that keep the output close to the Stage 2 input: cycle and identity."""

from __future__ import annotations

from torch import Tensor

from axion_terratorch.functional import cycle_loss, identity_loss
from axion_terratorch.losses.composite import TermModule


class CycleLoss(TermModule):
    """Masked MSE between output and Stage 2 input ("minimise changes"). Scalar."""

    def term(self, output: Tensor, optical: Tensor, mask: Tensor | None) -> Tensor:
        """(B, C, H, W) output and input reflectance -> scalar."""
        return cycle_loss(output, optical, mask)


class IdentityLoss(TermModule):
    """Masked mean of ``|output - optical| * (1 - conf)``, ``conf = sigmoid(10 (b - 0.1))`` with ``b``
    the per-sample min-max normalised mean(VV, VH): preserve the input where the SAR is dark. Scalar."""

    def term(self, output: Tensor, optical: Tensor, sar: Tensor, mask: Tensor | None) -> Tensor:
        """(B, C, H, W) reflectance, (B, 2, H, W) dB -> scalar."""
        return identity_loss(output, optical, sar, mask)
