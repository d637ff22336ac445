"""Structural fidelity to the real Sentinel-2 target: ``1 - SSIM``."""

from __future__ import annotations

import torch
from torch import Tensor

from axion_terratorch.argument_bounds import check_positive
from axion_terratorch.functional import ssim_per_sample
from axion_terratorch.losses.composite import TermModule


class SSIMLoss(TermModule):
    """``1 - SSIM(output, target)``, mean over samples, in [0, 2]; 0 when the output equals the target
    and when there is no target.

    Each sample's SSIM is torchmetrics' (Gaussian window 11 px, sigma 1.5) averaged over its valid
    pixels (:func:`~axion_terratorch.functional.ssim_per_sample`, the ``val/ssim`` metric).
    Computed in float32 whatever the autocast context: SSIM subtracts squared local means, which
    loses every digit of reflectance variances in float16.

    Args:
        data_range: Reflectance range of the SSIM constants (1.0, as the ``ssim`` metric).
    """

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__()
        check_positive({"data_range": data_range})
        self.data_range = data_range

    def term(self, output: Tensor, target: Tensor | None, mask: Tensor | None) -> Tensor:
        """(B, C, H, W) reflectance each -> scalar (0 without a target)."""
        if target is None:
            return output.new_zeros(())
        with torch.autocast(output.device.type, enabled=False):
            ssim = ssim_per_sample(output.float(), target.float(), mask, self.data_range)
        return (1 - ssim).mean()

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}"
