"""The Stage 3 loss terms' own math: the original Stage 3 guide's SAR edge and texture terms, cycle,
identity, spectral L1.

Every reduction is a mean over valid pixels only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from kornia.filters import box_blur, sobel
from torch import Tensor

from axion_terratorch.constants import S1GRD_MEAN, S1GRD_STD
from axion_terratorch.functional.tensors import EPS, as_weight, check_pair, check_sar, masked_mean, smooth

#: Default Gaussian sigma (px) smoothing the SAR before edge/texture terms (0 = the original Stage 3
#: guide's raw formula).
SAR_SIGMA = 1.5


def _max_normalised(x: Tensor) -> Tensor:
    return x / x.amax(dim=(-3, -2, -1), keepdim=True).clamp_min(EPS)


def backscatter_weight(sar: Tensor) -> Tensor:
    """Seed's adaptive weight sigmoid(mean(VV, VH)), on backscatter standardised with TerraMind's
    statistics (the sigmoid of raw dB values, -25..0, is ~0 everywhere). ``(B, 1, H, W)``."""
    mean = sum(S1GRD_MEAN) / 2
    std = sum(S1GRD_STD) / 2
    return torch.sigmoid((sar.mean(dim=1, keepdim=True) - mean) / std)


def sar_edge_loss(
    output: Tensor, sar: Tensor, mask: Tensor | None = None, sar_sigma: float = SAR_SIGMA
) -> Tensor:
    """Backscatter-weighted L1 between max-normalised Sobel magnitudes of optical and SAR.

    Optical edges are averaged over channels, SAR edges over VV/VH after a Gaussian of ``sar_sigma``
    (speckle makes the raw SAR edge map nearly uniform, which would pull the output toward noise).
    """
    check_sar(output, sar)
    edges_opt = _max_normalised(sobel(output).mean(dim=1, keepdim=True))
    edges_sar = _max_normalised(sobel(smooth(sar, sar_sigma)).mean(dim=1, keepdim=True))
    weight = backscatter_weight(sar) * as_weight(mask, output)
    return masked_mean((edges_opt - edges_sar).abs(), weight)


def local_variance(x: Tensor, window: int = 5) -> Tensor:
    """Channel-averaged local variance E[x^2] - E[x]^2 over a ``window`` x ``window`` box, (B, 1, H, W)."""
    mean = box_blur(x, (window, window), border_type="reflect")
    sq_mean = box_blur(x * x, (window, window), border_type="reflect")
    return (sq_mean - mean * mean).clamp_min(0).mean(dim=1, keepdim=True)


def sar_texture_loss(
    output: Tensor, sar: Tensor, mask: Tensor | None = None, sar_sigma: float = SAR_SIGMA, window: int = 5
) -> Tensor:
    """MSE between local variances of optical and (smoothed) SAR, each divided by its mean over valid pixels."""
    check_sar(output, sar)
    weight = as_weight(mask, output)

    def normalised(v: Tensor) -> Tensor:
        mean = (v * weight).sum(dim=(-3, -2, -1), keepdim=True) / weight.sum(dim=(-3, -2, -1), keepdim=True)
        return v / mean.clamp_min(EPS)

    var_opt = normalised(local_variance(output, window))
    var_sar = normalised(local_variance(smooth(sar, sar_sigma), window))
    return masked_mean((var_opt - var_sar) ** 2, weight)


def cycle_loss(output: Tensor, reference: Tensor, mask: Tensor | None = None) -> Tensor:
    """Masked MSE between the output and the Stage 2 input ("change little")."""
    check_pair(output, reference)
    return masked_mean((output - reference) ** 2, as_weight(mask, output))


def sar_confidence(sar: Tensor, mask: Tensor | None = None) -> Tensor:
    """sigmoid(10 (b - 0.1)) of the backscatter mean(VV, VH) min-max normalised per sample over
    valid pixels: near 1 where the SAR is bright (says much), near 0 where it is dark. (B, 1, H, W)."""
    backscatter = sar.mean(dim=1, keepdim=True)
    valid = as_weight(mask, sar) > 0
    low = backscatter.masked_fill(~valid, float("inf")).amin(dim=(-2, -1), keepdim=True)
    high = backscatter.masked_fill(~valid, float("-inf")).amax(dim=(-2, -1), keepdim=True)
    low, high = (torch.where(torch.isfinite(v), v, 0.0) for v in (low, high))  # all-invalid tiles
    normalised = (backscatter - low) / (high - low).clamp_min(EPS)
    return torch.sigmoid(10 * (normalised - 0.1))


def identity_loss(output: Tensor, reference: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
    """Masked mean of ``|output - reference| * (1 - confidence)``: keep the input where the SAR says little."""
    check_pair(output, reference)
    check_sar(output, sar)
    weight = as_weight(mask, output)
    return masked_mean((output - reference).abs() * (1 - sar_confidence(sar, mask)), weight)


def spectral_l1_loss(output: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Masked L1 between the output and the real Sentinel-2 target."""
    check_pair(output, target, ("output", "target"))
    return masked_mean(F.l1_loss(output, target, reduction="none"), as_weight(mask, output))
