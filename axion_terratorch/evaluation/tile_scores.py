"""Per-tile scores of a grounded batch: SAR agreement, quality verdict, LPIPS change, quality against targets."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.functional import (
    absolute_error_sum,
    copy_of_sar_ratio,
    psnr_from_mse,
    sar_agreement,
    spectral_angle_sum,
    squared_error_sum,
    ssim_per_sample,
)
from axion_terratorch.inference.quality import QualityCheck, check_tiles
from axion_terratorch.lpips import LPIPSDistance

Row = dict[str, float | int | str | bool | None]
#: Columns of a tile's scores against its target (``None`` without one).
TARGET_COLUMNS = (
    "psnr",
    "ssim",
    "sam",
    "mae",
    "psnr_input",
    "ssim_input",
    "sam_input",
    "psnr_gain",
    "ssim_gain",
    "sar_agreement_target",
    "sar_agreement_excess",
    "copy_of_sar_ratio",
)


def score_tiles(
    output: Tensor,
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str],
    target: Tensor | None = None,
    mask: Tensor | None = None,
    lpips: LPIPSDistance | None = None,
    check: QualityCheck | None = None,
) -> list[Row]:
    """Scores and quality verdict of each tile of a batch.

    Args:
        output: Grounded optical ``(B, C, H, W)`` reflectance.
        optical: The Stage 2 input, same shape.
        sar: ``(B, 2, H, W)`` VV, VH in dB.
        bands: Optical bands.
        target: Real Sentinel-2 ``(B, C, H, W)`` reflectance, if any.
        mask: Valid pixels ``(B, 1, H, W)``.
        lpips: LPIPS for ``lpips_change``, or ``None``.
        check: Thresholds of the model-free quality check (default :class:`QualityCheck`).

    Returns:
        One dict per tile: ``sar_agreement_input``, ``sar_agreement``, ``sar_agreement_gain``,
        ``improved``, ``sar_imprint``, ``sar_agreement_change``, ``band_drift`` (the band drift of
        largest magnitude) and ``band_drift_band`` (its band), ``quality_flag`` (the check's verdict), ``lpips_change``; with a
        target ``psnr`` (dB, data range 1), ``ssim``, ``sam`` (radians), ``mae`` (reflectance) of the
        output, ``psnr_input``, ``ssim_input``, ``sam_input``, ``psnr_gain``, ``ssim_gain``, ``sar_agreement_target``,
        ``sar_agreement_excess`` (``max(0, output's - target's agreement)``) and ``copy_of_sar_ratio``.
        Missing values are ``None``.
    """
    output, optical, sar = output.float(), optical.float(), sar.float()
    checked = check_tiles(output, optical, sar, bands, mask, check)
    change = lpips.per_sample(output, optical, mask) if lpips is not None else None
    if target is not None:
        target = target.float()
        ratio = copy_of_sar_ratio(output, sar, target, bands, mask)
        agreement_target = sar_agreement(target, sar, bands, mask)
    rows = []
    for i, (before, after, imprint, change_agreement, drift, verdict) in enumerate(checked):
        band = max(drift, key=lambda name: abs(drift[name]))
        row: Row = {
            "sar_agreement_input": before,
            "sar_agreement": after,
            "sar_agreement_gain": after - before,
            "improved": after > before,
            "sar_imprint": imprint,
            "sar_agreement_change": change_agreement,
            "band_drift": drift[band],
            "band_drift_band": band,
            "quality_flag": verdict.flag,
            "lpips_change": None if change is None else change[i].item(),
        }
        quality: Row = dict.fromkeys(TARGET_COLUMNS)
        if target is not None:
            sample = slice(i, i + 1)
            tile_mask = None if mask is None else mask[sample]
            quality = _target_scores(output[sample], target[sample], tile_mask)
            before_scores = _target_scores(optical[sample], target[sample], tile_mask)
            quality |= {
                "psnr_input": before_scores["psnr"],
                "ssim_input": before_scores["ssim"],
                "sam_input": before_scores["sam"],
                "psnr_gain": quality["psnr"] - before_scores["psnr"],
                "ssim_gain": quality["ssim"] - before_scores["ssim"],
                "sar_agreement_target": agreement_target[i].item(),
                "sar_agreement_excess": max(0.0, after - agreement_target[i].item()),
                "copy_of_sar_ratio": ratio[i].item(),
            }
        rows.append(row | quality)
    return rows


def _target_scores(output: Tensor, target: Tensor, mask: Tensor | None) -> dict[str, float | None]:
    sse, count = squared_error_sum(output, target, mask)
    mse = (sse / count.clamp_min(1)).double()
    abs_sum, pixels = absolute_error_sum(output, target, mask)
    angles, angle_count = spectral_angle_sum(output, target, mask)
    return {
        "psnr": psnr_from_mse(mse).item(),
        "ssim": ssim_per_sample(output, target, mask).item(),
        "sam": (angles / angle_count.clamp_min(1)).item(),
        "mae": (abs_sum / pixels.clamp_min(1)).mean().item(),
    }
