"""Shape checks, masks as weights, masked means and smoothing."""

from __future__ import annotations

from kornia.filters import gaussian_blur2d
from torch import Tensor

EPS = 1e-6
#: Guard of the structure-tensor divisions (gradients of reflectance are small numbers).
TINY = 1e-12


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
