"""Functional core of the metrics: SAR agreement and masked image-quality measures.

Optical tensors are ``(B, C, H, W)`` reflectance with named ``bands``; SAR is ``(B, 2, H, W)``
VV/VH in dB; masks are ``(B, 1, H, W)`` or ``(B, H, W)``, 1 = valid. Per-sample functions return
``(B,)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from kornia.filters import sobel
from torch import Tensor
from torchmetrics.functional.image import spectral_angle_mapper, structural_similarity_index_measure

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import (
    TINY,
    as_weight,
    check_pair,
    check_sar,
    luminance,
    orientation_agreement,
)

#: The project's SAR agreement, per sample ``(B,)`` in [-1, 1]: the jointly coherence-weighted
#: orientation agreement, :func:`~axion_terratorch.functional.orientation_agreement` with its default
#: ``weighting="joint"`` (one formula, under the name the metrics and reports use).
sar_agreement = orientation_agreement


def edge_cosine_agreement(
    optical: Tensor, sar: Tensor, bands: Sequence[str] = DEFAULT_BANDS, mask: Tensor | None = None
) -> Tensor:
    """The seed's formula, per sample, in [0, 1]: cosine similarity of max-normalised Sobel magnitudes
    of the luminance and of mean(VV, VH), over valid pixels. It rewards blur (speckle makes the SAR
    edge map nearly uniform); kept for comparison with the seed's targets."""
    check_sar(optical, sar)
    weight = as_weight(mask, optical).flatten(1)
    edges = []
    for image in (luminance(optical, bands), sar.mean(dim=1, keepdim=True)):
        magnitude = sobel(image).flatten(1) * weight
        edges.append(magnitude / magnitude.amax(dim=1, keepdim=True).clamp_min(TINY))
    return torch.nn.functional.cosine_similarity(edges[0], edges[1], dim=1, eps=TINY)


def _zscore(image: Tensor, weight: Tensor) -> Tensor:
    """Standardise each sample of a ``(B, 1, H, W)`` image over its valid pixels."""
    count = weight.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1)
    mean = (image * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    var = ((image - mean) ** 2 * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    return (image - mean) / var.sqrt().clamp_min(TINY)


def copy_of_sar_ratio(
    output: Tensor, sar: Tensor, target: Tensor, bands: Sequence[str], mask: Tensor | None = None
) -> Tensor:
    """Distance of the output to the SAR image over its distance to the target, per sample ``(B,)``.

    Images are compared as standardised (per sample, over valid pixels) luminance of the optical
    images and mean(VV, VH) in dB: the distance is the RMS difference, ``sqrt(2 (1 - r))`` for a
    Pearson correlation ``r``. Above 1 the output looks more like the target than like the SAR; an
    output that copies the SAR's structure instead of grounding in it falls below 1.
    """
    weight = as_weight(mask, output)
    out_z = _zscore(luminance(output, bands), weight)
    count = weight.sum(dim=(1, 2, 3)).clamp_min(1)

    def distance(other: Tensor) -> Tensor:
        return (((out_z - _zscore(other, weight)) ** 2 * weight).sum(dim=(1, 2, 3)) / count).sqrt()

    return distance(sar.mean(dim=1, keepdim=True)) / distance(luminance(target, bands)).clamp_min(TINY)


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
