"""Tensor helpers shared by losses and metrics: shape checks, masks, smoothing, structure tensors.

Optical tensors are ``(B, C, H, W)`` reflectance with named ``bands``; SAR is ``(B, 2, H, W)``
VV/VH in dB; masks are ``(B, 1, H, W)`` or ``(B, H, W)``, bool or float, 1 = valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import gaussian_blur2d, spatial_gradient
from torch import Tensor

from axion_terratorch.constants import DEFAULT_BANDS, rgb_indices

EPS = 1e-6
#: Guard of the structure-tensor divisions (gradients of reflectance are small numbers).
TINY = 1e-12
#: Gaussian sigma (px) smoothing the SAR intensity before its structure tensor.
AGREEMENT_SAR_SIGMA = 1.5
#: Integration scale (px) of the structure tensors.
AGREEMENT_RHO = 2.0


def check_pair(a: Tensor, b: Tensor, names: tuple[str, str] = ("output", "reference")) -> None:
    """Raise ValueError unless ``a`` and ``b`` are 4-D with equal shapes."""
    if a.ndim != 4 or a.shape != b.shape:
        msg = f"{names[0]} and {names[1]} must be (B, C, H, W) of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        raise ValueError(msg)


def check_sar(optical: Tensor, sar: Tensor) -> None:
    """Raise ValueError unless ``sar`` is ``(B, 2, H, W)`` on the grid of ``optical``."""
    if (
        sar.ndim != 4
        or sar.shape[1] != 2
        or sar.shape[0] != optical.shape[0]
        or sar.shape[-2:] != optical.shape[-2:]
    ):
        msg = (
            f"sar must be (B, 2, H, W) VV/VH matching optical {tuple(optical.shape)}, got {tuple(sar.shape)}"
        )
        raise ValueError(msg)


def as_weight(mask: Tensor | None, like: Tensor) -> Tensor:
    """Mask as a float ``(B, 1, H, W)`` weight (all ones when ``mask`` is None)."""
    if mask is None:
        return like.new_ones(like.shape[0], 1, *like.shape[-2:])
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    if mask.shape != (like.shape[0], 1, *like.shape[-2:]):
        msg = f"mask must be (B, 1, H, W) or (B, H, W) for {tuple(like.shape)}, got {tuple(mask.shape)}"
        raise ValueError(msg)
    return mask.to(like.dtype)


def masked_mean(x: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean of ``x`` (B, C, H, W) with a ``(B, 1, H, W)`` weight, over all elements."""
    weight = weight.expand_as(x)
    return (x * weight).sum() / weight.sum().clamp_min(EPS)


def smooth(x: Tensor, sigma: float) -> Tensor:
    """Gaussian blur with standard deviation ``sigma`` px (identity for ``sigma <= 0``)."""
    if sigma <= 0:
        return x
    size = 2 * round(3 * sigma) + 1
    return gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="reflect")


def luminance(optical: Tensor, bands: Sequence[str] = DEFAULT_BANDS) -> Tensor:
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of B04, B03, B02, ``(B, 1, H, W)``.

    kornia's ``rgb_to_grayscale`` on the red, green and blue bands picked by name (the band lists put
    them in B02, B03, B04 = blue, green, red order, so they are reordered to R, G, B first).
    """
    return rgb_to_grayscale(optical[:, list(rgb_indices(bands))])


def _structure_tensor(image: Tensor, rho: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(Jxx - Jyy, 2 Jxy, Jxx + Jyy)`` of a (B, 1, H, W) image, Gaussian-integrated at ``rho``."""
    grad = spatial_gradient(image, mode="sobel")  # (B, 1, 2, H, W)
    gx, gy = grad[:, :, 0], grad[:, :, 1]
    tensor = smooth(torch.cat([gx * gx, gx * gy, gy * gy], dim=1), rho)
    jxx, jxy, jyy = tensor.unbind(dim=1)
    return jxx - jyy, 2 * jxy, jxx + jyy


def orientation_agreement(
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str] = DEFAULT_BANDS,
    mask: Tensor | None = None,
    sar_sigma: float = AGREEMENT_SAR_SIGMA,
    rho: float = AGREEMENT_RHO,
    weighting: Literal["joint", "sar"] = "joint",
) -> Tensor:
    """Coherence-weighted agreement of structure-tensor orientations, per sample ``(B,)``, in [-1, 1].

    For the optical luminance and the SAR intensity mean(VV, VH) (dB, smoothed with ``sar_sigma``)
    the structure tensors (integration scale ``rho``) give at each pixel an orientation ``theta``
    and a coherence ``c = sqrt((Jxx - Jyy)^2 + 4 Jxy^2) / (Jxx + Jyy)``. The agreement is
    ``sum(w cos 2(theta_sar - theta_opt)) / sum(w)`` over valid pixels, with ``w = c_sar c_opt``
    (``weighting="joint"``, the metric) or ``w = c_sar`` (``"sar"``: every optical pixel counts
    where the SAR has structure, so noise in the optical lowers it; the loss uses this).
    1: same local orientations; ~0: unrelated structure. Computed in float32 whatever the autocast
    context: squared gradients and ``TINY`` underflow in float16.

    With ``"joint"`` it is the project's SAR agreement (``metrics.functional.sar_agreement``):
    unlike the seed's edge-cosine formula it ranks, on real BigEarthNet pairs, the true Sentinel-2
    above the same image blurred, shifted or pixel-shuffled (``docs/concepts.md``). ``1 -`` its
    ``"sar"`` form is the structure term of the SAR losses.
    """
    check_sar(optical, sar)
    with torch.autocast(optical.device.type, enabled=False):
        return _orientation_agreement(optical.float(), sar.float(), bands, mask, sar_sigma, rho, weighting)


def _orientation_agreement(
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str],
    mask: Tensor | None,
    sar_sigma: float,
    rho: float,
    weighting: Literal["joint", "sar"],
) -> Tensor:
    weight = as_weight(mask, optical)[:, 0]
    d_s, o_s, t_s = _structure_tensor(smooth(sar.mean(dim=1, keepdim=True), sar_sigma), rho)
    d_o, o_o, t_o = _structure_tensor(luminance(optical, bands), rho)
    r_s = torch.sqrt(d_s * d_s + o_s * o_s + TINY)
    r_o = torch.sqrt(d_o * d_o + o_o * o_o + TINY)
    cosine = (d_s * d_o + o_s * o_o) / (r_s * r_o)
    w = r_s / (t_s + TINY)
    if weighting == "joint":
        w = w * r_o / (t_o + TINY)
    w = w * weight
    return (w * cosine).sum(dim=(-2, -1)) / w.sum(dim=(-2, -1)).clamp_min(TINY)
