"""Windows of a scene batched for the model: what every caller of a model on a scene reads.

:func:`window_batches` reads the windows of a
:class:`~axion_terratorch.datasets.tiling.TileLayout` from a
:class:`~axion_terratorch.datasets.scene_inputs.SceneReader`, fills invalid pixels with finite
values, and :func:`model_input` makes the model's input of a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from axion_terratorch.constants import OPTICAL_KEY, S1GRD_MEAN, SAR_KEY
from axion_terratorch.datasets.scene_inputs import SceneReader
from axion_terratorch.datasets.tiling import TileLayout, Window


@dataclass
class WindowBatch:
    """Windows of one scene ready for the model: at most ``batch_size`` of them, each with a valid
    optical pixel.

    Attributes:
        windows: The windows, in the scene's row-major order.
        sar: float32 ``(B, 2, h, w)`` dB, invalid pixels set to the Sentinel-1 mean.
        optical: float32 ``(B, C, h, w)`` reflectance, invalid pixels set to the window's band means.
        valid: bool ``(B, h, w)``: SAR and optical both valid.
        covered: Windows of the layout this batch stands for (those without a valid optical pixel
            included), for progress bars.
    """

    windows: list[Window]
    sar: np.ndarray
    optical: np.ndarray
    valid: np.ndarray
    covered: int


def window_batches(reader: SceneReader, layout: TileLayout, batch_size: int) -> Iterator[WindowBatch]:
    """The windows of ``layout`` read from ``reader``, ``batch_size`` consecutive windows at a time.

    Windows with no valid optical pixel only cover nodata: they are left out of their batch, and a
    group of ``batch_size`` windows with none left yields nothing. Every caller batches the windows
    the same way, so a scene's output does not depend on which caller grounded it.
    """
    windows = list(layout)
    fill_sar = np.asarray(S1GRD_MEAN, dtype=np.float32)[:, None, None]
    for start in range(0, len(windows), batch_size):
        kept: list[tuple[Window, np.ndarray, np.ndarray, np.ndarray]] = []
        group = windows[start : start + batch_size]
        for window in group:
            sar, optical, sar_valid, opt_valid = reader.read(window)
            if opt_valid.any():
                sar = np.where(sar_valid, sar, fill_sar)
                kept.append((window, sar, _fill_optical(optical, opt_valid), sar_valid & opt_valid))
        if kept:
            sar, optical, valid = (np.stack([k[i] for k in kept]) for i in (1, 2, 3))
            yield WindowBatch([k[0] for k in kept], sar, optical, valid, len(group))


def model_input(batch: WindowBatch) -> dict[str, torch.Tensor]:
    """``{"S1GRD": (B, 2, h, w), "S2L2A": (B, C, h, w)}`` float32 CPU tensors of ``batch`` in
    ``channels_last`` memory format (which ``Tensor.to(device)`` keeps).

    oneDNN's convolutions work in that format natively (NCHW inputs are converted before and after
    every convolution; the speed-up is in ``docs/inference.md``); values are the same up to float
    rounding, and layers that are not convolutions see the same shapes.
    """
    return {
        key: torch.from_numpy(array).contiguous(memory_format=torch.channels_last)
        for key, array in ((SAR_KEY, batch.sar), (OPTICAL_KEY, batch.optical))
    }


def _fill_optical(optical: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace invalid pixels by the band means of the window's valid pixels (finite model input)."""
    means = optical[:, valid].mean(axis=1)[:, None, None]
    return np.where(valid, optical, means).astype(np.float32)
