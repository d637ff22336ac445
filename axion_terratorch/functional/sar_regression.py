"""A scene's own SAR-to-optical relation: weighted least squares of reflectance on despeckled SAR.

Where the optical estimate is right (clear of clouds, in place), its reflectance and the SAR of the
same scene are related, field by field and shore by shore, in a way no global model knows: it changes
with the season, the crop and the processing level. Fitted per tile on the pixels trusted to be right
and evaluated everywhere, that relation says what the SAR shows at the pixels that are not: measured
on the shared pairs, it fills clouds better than their surroundings (``benchmarks/sar_occlusion_fill.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from axion_terratorch.functional.tensors import EPS, smooth

#: Gaussian sigmas (px) despeckling the SAR into the fit's features, one pair of VV/VH per scale
#: (chosen on the BigEarthNet pairs of ``benchmarks/sar_occlusion_fill.py``).
DESPECKLE_SIGMAS = (1.5, 4.0)
#: Smallest per-tile spread of a polarisation, dB, used to standardise it (a flat SAR stays flat).
MIN_SAR_SPREAD = 0.01
#: Ridge added to the SAR covariance, in squared standard units (a flat or absent SAR fits the mean).
RIDGE = 0.05
#: Reweighting rounds of :func:`robust_sar_regression`.
ROBUST_ITERATIONS = 10
#: Departure, in the tile's median departures, at which a pixel's weight halves.
ROBUST_SCALE = 1.0


def sar_guide(sar: Tensor, sigmas: Sequence[float] = DESPECKLE_SIGMAS) -> Tensor:
    """The fit's features: ``sar`` ``(B, 2, H, W)`` dB despeckled at each of ``sigmas``, each
    polarisation standardised over its tile, ``(B, 2 * len(sigmas), H, W)``."""
    despeckled = torch.cat([smooth(sar, sigma) for sigma in sigmas], dim=1)
    mean = despeckled.mean(dim=(-2, -1), keepdim=True)
    return (despeckled - mean) / despeckled.std(dim=(-2, -1), keepdim=True).clamp_min(MIN_SAR_SPREAD)


def sar_regression(
    optical: Tensor, guide: Tensor, weight: Tensor, sigma: float | None = None, ridge: float = RIDGE
) -> Tensor:
    """Each band of ``optical`` fitted by weighted least squares on ``guide``, evaluated at every pixel.

    Args:
        optical: ``(B, C, H, W)`` reflectance.
        guide: ``(B, G, H, W)`` features, e.g. :func:`sar_guide`.
        weight: ``(B, 1, H, W)`` non-negative weight of each pixel in the fit (1: trusted).
        sigma: ``None`` for one fit per tile; otherwise a fit around every pixel with Gaussian
            weights of this standard deviation (px).
        ridge: Added to the guide's weighted covariance: with little weight or a flat guide the fit
            falls back to the weighted mean.

    Returns:
        ``(B, C, H, W)``: the weighted mean of ``optical`` plus the fitted slopes times the guide's
        departure from its weighted mean.
    """

    def total(x: Tensor) -> Tensor:
        return x.sum(dim=(-2, -1), keepdim=True) if sigma is None else smooth(x, sigma)

    norm = total(weight).clamp_min(EPS)
    mean_o = total(weight * optical) / norm
    g = guide - total(weight * guide) / norm
    o = optical - mean_o
    features = guide.shape[1]
    covariance = torch.stack(
        [total(weight * g[:, i : i + 1] * g) / norm for i in range(features)], dim=1
    )  # (B, G, G, h, w): h, w are 1 for a tile-wide fit
    cross = torch.stack([total(weight * g[:, i : i + 1] * o) / norm for i in range(features)], dim=1)
    eye = ridge * torch.eye(features, dtype=guide.dtype, device=guide.device)
    slopes = torch.linalg.solve(
        covariance.permute(0, 3, 4, 1, 2) + eye, cross.permute(0, 3, 4, 1, 2)
    ).permute(0, 4, 3, 1, 2)  # (B, C, G, h, w)
    return mean_o + (slopes * g[:, None]).sum(dim=2)


def median_units(x: Tensor) -> Tensor:
    """Non-negative ``x`` ``(B, C, H, W)`` divided by its median over each tile and channel."""
    return x / x.flatten(-2).median(dim=-1).values[..., None, None].clamp_min(EPS)


def robust_sar_regression(
    optical: Tensor,
    guide: Tensor,
    iterations: int = ROBUST_ITERATIONS,
    scale: float = ROBUST_SCALE,
    ridge: float = RIDGE,
) -> tuple[Tensor, Tensor]:
    """:func:`sar_regression` over the whole tile that finds the pixels it should not trust itself.

    Iteratively reweighted least squares with Cauchy weights: a pixel whose departure from the fit is
    ``r`` times the tile's median departure weighs ``1 / (1 + (r / scale)^2)``, the departure being
    the mean over bands of the absolute residual in units of that band's median one (so a per-band
    gain of the input changes no weight, and the fit follows any per-band gain and offset). Clouds,
    haze, shadows and invented content, which the SAR does not show, depart far and stop weighing;
    the rest is the scene's own SAR-to-optical relation.

    Returns:
        The fit ``(B, C, H, W)`` and the last weights ``(B, 1, H, W)`` in (0, 1].
    """
    weight = torch.ones_like(optical[:, :1])
    fit = sar_regression(optical, guide, weight, ridge=ridge)
    for _ in range(iterations):
        departure = median_units((optical - fit).abs()).mean(dim=1, keepdim=True)
        weight = 1 / (1 + (median_units(departure) / scale) ** 2)
        fit = sar_regression(optical, guide, weight, ridge=ridge)
    return fit, weight
