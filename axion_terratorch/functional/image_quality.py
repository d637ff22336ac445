"""Masked image quality against a target: PSNR from summed squared errors, absolute errors, per-sample
SSIM, spectral angle. Per-sample functions return ``(B,)``."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.image import spectral_angle_mapper, structural_similarity_index_measure

from axion_terratorch.functional.tensors import TINY, as_weight, check_pair


def psnr_from_mse(mse: Tensor, data_range: float = 1.0) -> Tensor:
    """PSNR in dB, ``10 log10(data_range^2 / mse)`` (``inf`` for ``mse == 0``): the package's one PSNR
    formula, used by :class:`~axion_terratorch.metrics.MaskedPSNR` and the per-tile scores.

    torchmetrics' ``peak_signal_noise_ratio`` takes no mask, so the masked mean squared error is
    computed by :func:`squared_error_sum` and turned into dB here.
    """
    return 10 * torch.log10(data_range**2 / mse)


def squared_error_sum(preds: Tensor, target: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Sum of squared errors over valid pixels and all channels, and the number of values."""
    check_pair(preds, target, ("preds", "target"))
    weight = as_weight(mask, preds).expand_as(preds)
    return ((preds - target) ** 2 * weight).sum(), weight.sum()


def absolute_error_sum(preds: Tensor, target: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Per-band sums of absolute errors over valid pixels, (C,), and the number of valid pixels."""
    check_pair(preds, target, ("preds", "target"))
    weight = as_weight(mask, preds)
    return ((preds - target).abs() * weight).sum(dim=(0, 2, 3)), weight.sum()


def ssim_per_sample(
    preds: Tensor, target: Tensor, mask: Tensor | None = None, data_range: float = 1.0
) -> Tensor:
    """SSIM of each sample (B,): torchmetrics' value without a mask, else the mean of its SSIM map
    over valid pixels."""
    check_pair(preds, target, ("preds", "target"))
    if mask is None:
        return structural_similarity_index_measure(preds, target, data_range=data_range, reduction="none")
    _, ssim_map = structural_similarity_index_measure(
        preds, target, data_range=data_range, reduction="none", return_full_image=True
    )
    weight = as_weight(mask, preds).expand_as(ssim_map)
    return (ssim_map * weight).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(TINY)


def spectral_angle_sum(preds: Tensor, target: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Sum of per-pixel spectral angles (radians) over valid pixels, and their number.

    A pixel whose spectrum is all zero in either image (dark water clipped at 0 reflectance) has no
    angle; it is left out rather than making the sum NaN.
    """
    check_pair(preds, target, ("preds", "target"))
    angles = spectral_angle_mapper(preds, target, reduction="none")  # (B, H, W)
    defined = torch.isfinite(angles)
    weight = as_weight(mask, preds)[:, 0] * defined
    return (angles.where(defined, 0.0) * weight).sum(), weight.sum()
