"""Checks of the multimodal input dict shared by the models."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY


def unpack_image(image: Mapping[str, Tensor], num_bands: int) -> tuple[Tensor, Tensor]:
    """Return ``(sar, optical)`` from ``{"S1GRD": (B, 2, H, W), "S2L2A": (B, C, H, W)}``.

    Raises:
        KeyError: If a modality is missing; the message lists the keys given.
        ValueError: If band counts or sizes disagree; the message gives the shapes.
    """
    missing = [key for key in (SAR_KEY, OPTICAL_KEY) if key not in image]
    if missing:
        msg = f"input image dict lacks {missing}; got keys {sorted(image)}"
        raise KeyError(msg)
    sar, optical = image[SAR_KEY], image[OPTICAL_KEY]
    if sar.ndim != 4 or sar.shape[1] != 2:
        msg = f"{SAR_KEY} must be (B, 2, H, W) with VV, VH in dB, got {tuple(sar.shape)}"
        raise ValueError(msg)
    if optical.ndim != 4 or optical.shape[1] != num_bands:
        msg = f"{OPTICAL_KEY} must be (B, {num_bands}, H, W) for the configured bands, got {tuple(optical.shape)}"
        raise ValueError(msg)
    if sar.shape[0] != optical.shape[0] or sar.shape[-2:] != optical.shape[-2:]:
        msg = f"{SAR_KEY} {tuple(sar.shape)} and {OPTICAL_KEY} {tuple(optical.shape)} differ in batch or size"
        raise ValueError(msg)
    return sar, optical
