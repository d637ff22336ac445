"""Standardisation with TerraMind v1 pretraining statistics, held in buffers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from axion_terratorch.constants import (
    DEFAULT_BANDS,
    REFLECTANCE_SCALE,
    S1GRD_MEAN,
    S1GRD_STD,
    S2L2A_MEAN,
    S2L2A_STD,
    band_slots,
)


def _stats(values: Sequence[float], scale: float = 1.0) -> Tensor:
    return torch.tensor(values, dtype=torch.float32).div(scale).view(1, -1, 1, 1)


class TerraMindStandardizer(nn.Module):
    """Map S1GRD (dB) and S2L2A (reflectance) to TerraMind's standardised input space and back.

    The statistics are buffers, so they follow ``.to(device)`` and dtype casts (terratorch's
    generation model keeps them in plain dicts that do not).

    Args:
        bands: Optical bands of the S2L2A input, for example ``("B02", "B03", "B04", "B08")``.
    """

    def __init__(self, bands: Sequence[str] = DEFAULT_BANDS) -> None:
        super().__init__()
        slots = band_slots(bands)
        self.bands = tuple(bands)
        self.register_buffer("optical_mean", _stats([S2L2A_MEAN[i] for i in slots], REFLECTANCE_SCALE))
        self.register_buffer("optical_std", _stats([S2L2A_STD[i] for i in slots], REFLECTANCE_SCALE))
        self.register_buffer("sar_mean", _stats(S1GRD_MEAN))
        self.register_buffer("sar_std", _stats(S1GRD_STD))

    def optical(self, x: Tensor) -> Tensor:
        """(B, C, H, W) reflectance -> standardised."""
        return (x - self.optical_mean) / self.optical_std

    def optical_inverse(self, z: Tensor) -> Tensor:
        """Standardised (B, C, H, W) -> reflectance."""
        return z * self.optical_std + self.optical_mean

    def sar(self, x: Tensor) -> Tensor:
        """(B, 2, H, W) VV/VH in dB -> standardised."""
        return (x - self.sar_mean) / self.sar_std

    def extra_repr(self) -> str:
        return f"bands={self.bands}"
