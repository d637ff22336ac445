"""Tile-relative optical radiometry: the part of an optical estimate the residual model leaves alone."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

#: Smallest per-band spread used to standardise a tile, reflectance (a flat band is not blown up).
MIN_SPREAD = 1e-3


class TileRadiometry(NamedTuple):
    """Per-tile, per-band level and spread of an optical image, ``(B, C, 1, 1)`` each.

    The residual model sees the optical estimate standardised by its own level and spread, and its
    correction is scaled back by the spread with its band-wise median removed. The output is then
    equivariant to any per-band affine change of the input's radiometry (``a * x + b`` with
    ``a > 0`` grounds to ``a * f(x) + b``): a gain or offset the SAR cannot vouch for, such as
    another processing level, season or sensor calibration, is neither seen nor "restored", and the
    correction cannot shift a band as a whole (its median over the tile is zero).
    """

    level: Tensor
    spread: Tensor

    @classmethod
    def of(cls, optical: Tensor) -> TileRadiometry:
        """Mean and standard deviation of each band of each tile of ``optical`` (B, C, H, W)."""
        level = optical.mean(dim=(-2, -1), keepdim=True)
        spread = optical.std(dim=(-2, -1), keepdim=True).clamp_min(MIN_SPREAD)
        return cls(level, spread)

    def standardize(self, optical: Tensor) -> Tensor:
        """``optical`` in units of the tile's own level and spread."""
        return (optical - self.level) / self.spread

    def correction(self, delta: Tensor) -> Tensor:
        """A standardised correction in reflectance, without a band-wide shift (zero median per band)."""
        delta = delta * self.spread
        median = delta.flatten(-2).median(dim=-1).values
        return delta - median[..., None, None]
