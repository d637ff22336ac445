"""Crop or pad tiles to a fixed size: random windows for training, centred ones for evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import torch


def _offsets(length: int, size: int, random: bool, generator: torch.Generator | None) -> tuple[int, int]:
    """``(start in the tile, start in the output)`` along one axis."""
    if length >= size:
        span = length - size
        return (int(torch.randint(span + 1, (1,), generator=generator)) if random else span // 2), 0
    return 0, (size - length) // 2


def crop_or_pad(
    arrays: Sequence[np.ndarray], size: int, random: bool = False, generator: torch.Generator | None = None
) -> list[np.ndarray]:
    """Cut one ``size`` x ``size`` window out of arrays that share their last two dimensions.

    Each axis longer than ``size`` is cropped: at a random offset when ``random`` (training; drawn
    from ``generator``, else from torch's global generator), else centred. Each shorter axis is
    padded equally on both sides with zeros (``False`` for masks), so padding is invalid in the
    valid-pixel mask. All arrays get the same window.

    Args:
        arrays: Arrays of shape (..., H, W).
        size: Output height and width.
        random: Random offsets (training) instead of centred windows (validation, test).
        generator: Generator of the offsets (the training sampler seeds one per draw, so a resumed
            run crops as the uninterrupted run did).

    Returns:
        Arrays of shape (..., size, size), same dtypes.
    """
    height, width = arrays[0].shape[-2:]
    (y, pad_y), (x, pad_x) = (_offsets(n, size, random, generator) for n in (height, width))
    out = []
    for array in arrays:
        window = array[..., y : y + size, x : x + size]
        result = np.zeros((*array.shape[:-2], size, size), dtype=array.dtype)
        result[..., pad_y : pad_y + window.shape[-2], pad_x : pad_x + window.shape[-1]] = window
        out.append(result)
    return out


class SampleIndex(int):
    """A dataset index that carries the seed of its random draws (crop offsets).

    :class:`~axion_terratorch.datamodules.sampling.ResumableRandomSampler` yields these, seeded by
    ``(seed, epoch, position in the epoch)``, so the crops of a training sample do not depend on the
    global random state, which a checkpoint does not keep: a resumed run crops as the uninterrupted
    run did, in the main process and in workers alike.

    Why an ``int`` subclass rather than a ``(index, seed)`` pair: the sampler feeds whatever dataset
    a data module's ``split_dataset`` returns (a subclass's own, a torchgeo or terratorch dataset), and
    every map-style dataset is indexed by an ``int``. This index works for all of them; only datasets
    that call :func:`draw_generator` read the seed, and any other sees the plain index it expects.
    A tuple or dataclass index would break every dataset that indexes a list or an array with it.
    """

    draw_seed: int

    def __new__(cls, index: int, draw_seed: int) -> Self:
        """``index`` with ``draw_seed``."""
        value = super().__new__(cls, index)
        value.draw_seed = draw_seed
        return value

    def __getnewargs__(self) -> tuple[int, int]:  # type: ignore[override]
        """Pickle both numbers (indices travel to DataLoader workers)."""
        return int(self), self.draw_seed


def draw_generator(index: int) -> torch.Generator | None:
    """A generator seeded by ``index.draw_seed`` for a :class:`SampleIndex`, else ``None``."""
    if isinstance(index, SampleIndex):
        return torch.Generator().manual_seed(index.draw_seed)
    return None
