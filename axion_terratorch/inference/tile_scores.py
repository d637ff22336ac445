"""Per-tile scores of a grounded batch: SAR agreement, LPIPS change, quality against targets, copy-of-SAR guard."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.functional import TINY, as_weight, luminance
from axion_terratorch.losses.lpips import LPIPSLoss
from axion_terratorch.metrics.functional import (
    absolute_error_sum,
    sar_agreement,
    spectral_angle_sum,
    squared_error_sum,
    ssim_per_sample,
)

Row = dict[str, float | int | str | bool | None]


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


def score_tiles(
    output: Tensor,
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str],
    target: Tensor | None = None,
    mask: Tensor | None = None,
    lpips: LPIPSLoss | None = None,
) -> list[Row]:
    """Scores of each tile of a batch.

    Args:
        output: Grounded optical ``(B, C, H, W)`` reflectance.
        optical: The Stage 2 input, same shape.
        sar: ``(B, 2, H, W)`` VV, VH in dB.
        bands: Optical bands.
        target: Real Sentinel-2 ``(B, C, H, W)`` reflectance, if any.
        mask: Valid pixels ``(B, 1, H, W)``.
        lpips: LPIPS for ``lpips_change``, or ``None``.

    Returns:
        One dict per tile: ``sar_agreement_input``, ``sar_agreement_output``, ``sar_agreement_gain``,
        ``improved``, ``lpips_change``, and with a target ``psnr`` (dB, data range 1), ``ssim``,
        ``sam`` (radians), ``mae`` (reflectance) and ``copy_of_sar_ratio``; missing values are ``None``.
    """
    output, optical, sar = output.float(), optical.float(), sar.float()
    before = sar_agreement(optical, sar, bands, mask)
    after = sar_agreement(output, sar, bands, mask)
    change = lpips.per_sample(output, optical, mask) if lpips is not None else None
    ratio = copy_of_sar_ratio(output, sar, target, bands, mask) if target is not None else None
    rows = []
    for i in range(output.shape[0]):
        row: Row = {
            "sar_agreement_input": before[i].item(),
            "sar_agreement_output": after[i].item(),
            "sar_agreement_gain": (after[i] - before[i]).item(),
            "improved": bool(after[i] > before[i]),
            "lpips_change": None if change is None else change[i].item(),
        }
        quality: dict[str, float | None] = dict.fromkeys(("psnr", "ssim", "sam", "mae", "copy_of_sar_ratio"))
        if target is not None:
            sample = slice(i, i + 1)
            tile_mask = None if mask is None else mask[sample]
            quality = _target_scores(output[sample], target[sample].float(), tile_mask)
            quality["copy_of_sar_ratio"] = ratio[i].item()
        rows.append(row | quality)
    return rows


def _target_scores(output: Tensor, target: Tensor, mask: Tensor | None) -> dict[str, float | None]:
    sse, count = squared_error_sum(output, target, mask)
    mse = (sse / count.clamp_min(1)).item()
    abs_sum, pixels = absolute_error_sum(output, target, mask)
    angles, angle_count = spectral_angle_sum(output, target, mask)
    return {
        "psnr": math.inf if mse == 0 else -10 * math.log10(mse),
        "ssim": ssim_per_sample(output, target, mask).item(),
        "sam": (angles / angle_count.clamp_min(1)).item(),
        "mae": (abs_sum / pixels.clamp_min(1)).mean().item(),
    }
