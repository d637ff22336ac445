"""Crop or pad tiles to a fixed size: random windows for training, centred ones for evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _offsets(length: int, size: int, random: bool) -> tuple[int, int]:
    """``(start in the tile, start in the output)`` along one axis."""
    if length >= size:
        span = length - size
        return (int(torch.randint(span + 1, (1,))) if random else span // 2), 0
    return 0, (size - length) // 2


def crop_or_pad(arrays: Sequence[np.ndarray], size: int, random: bool = False) -> list[np.ndarray]:
    """Cut one ``size`` x ``size`` window out of arrays that share their last two dimensions.

    Each axis longer than ``size`` is cropped: at a random offset when ``random`` (training; drawn
    from torch's generator, which Lightning and DataLoader workers seed), else centred. Each
    shorter axis is padded equally on both sides with zeros (``False`` for masks), so padding is
    invalid in the valid-pixel mask. All arrays get the same window.

    Args:
        arrays: Arrays of shape (..., H, W).
        size: Output height and width.
        random: Random offsets (training) instead of centred windows (validation, test).

    Returns:
        Arrays of shape (..., size, size), same dtypes.
    """
    height, width = arrays[0].shape[-2:]
    (y, pad_y), (x, pad_x) = _offsets(height, size, random), _offsets(width, size, random)
    out = []
    for array in arrays:
        window = array[..., y : y + size, x : x + size]
        result = np.zeros((*array.shape[:-2], size, size), dtype=array.dtype)
        result[..., pad_y : pad_y + window.shape[-2], pad_x : pad_x + window.shape[-1]] = window
        out.append(result)
    return out
