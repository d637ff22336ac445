"""Band drift: how much a grounding changed a band's radiometry across the tile, rather than its structure.

A restoration changes an optical image where it was wrong (blur, misregistration, noise, a cloud or
haze over part of the tile): its change is local. A change of radiometry, a band made darker or
brighter everywhere (as a model trained on another processing level does), is one the SAR cannot
vouch for. Per pixel the relative low-pass change of band ``b`` is::

    r_b = G * (output_b - input_b) / max(G * input_b, MIN_LEVEL)

with ``G`` a Gaussian low-pass of ``DRIFT_SIGMA`` px over valid pixels (it cancels the zero-mean
changes of deblurring, denoising and local shifts). The drift of the band is the change at least
``DRIFT_COVER`` of the valid pixels share: the ``1 - DRIFT_COVER`` quantile of ``r_b`` when that is
positive, the ``DRIFT_COVER`` quantile when that is negative, else 0. A band scaled by 0.9 gives
``-0.10``; an unchanged image 0, and so does an image whose clouds or haze were removed from less
than ``DRIFT_COVER`` of the tile. Tiles and scenes use the same histogram of ``r_b``
(:class:`DriftHistogram`), so a scene's drift does not depend on how it was cut into blocks.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from axion_terratorch.functional import TINY, as_weight, check_pair, smooth

#: Gaussian sigma (px) of the low-pass of the change (smaller on tiles under ``8 * DRIFT_SIGMA`` px).
DRIFT_SIGMA = 4.0
#: Smallest band level (reflectance) the change is relative to: dark pixels do not blow it up.
MIN_LEVEL = 0.01
#: Share of the valid pixels a change must span to count as band drift.
DRIFT_COVER = 0.9
#: Bin width and half-range of the histogram of the relative low-pass change (beyond: the end bins).
HISTOGRAM_STEP = 1e-3
HISTOGRAM_RANGE = 2.0


def relative_low_pass_change(output: Tensor, optical: Tensor, mask: Tensor | None = None) -> Tensor:
    """``r_b`` of the module docstring: the low-pass change relative to the low-pass input, ``(B, C, H, W)``.

    The low-pass is a normalised convolution over valid pixels (invalid ones do not bleed in).
    """
    check_pair(output, optical, ("output", "input"))
    weight = as_weight(mask, output).float()
    sigma = min(DRIFT_SIGMA, min(output.shape[-2:]) / 8)
    with torch.autocast(output.device.type, enabled=False):
        norm = smooth(weight, sigma).clamp_min(TINY)
        change = smooth((output.float() - optical.float()) * weight, sigma) / norm
        level = smooth(optical.float() * weight, sigma) / norm
        return change / level.clamp_min(MIN_LEVEL)


def band_drift(output: Tensor, optical: Tensor, mask: Tensor | None = None) -> Tensor:
    """The relative change of each band ``DRIFT_COVER`` of the tile shares (module docstring), ``(B, C)``.

    ``nan`` for a tile without valid pixels.

    Args:
        output: Grounded optical ``(B, C, H, W)`` reflectance.
        optical: The input it was made from, same shape.
        mask: Valid pixels ``(B, 1, H, W)``.

    Example:
        >>> optical = torch.rand(1, 4, 32, 32) * 0.3 + 0.05
        >>> darker = optical * torch.tensor([0.9, 1.0, 1.0, 1.0])[:, None, None]
        >>> band_drift(darker, optical)
        tensor([[-0.1000,  0.0000,  0.0000,  0.0000]], dtype=torch.float64)
    """
    weight = as_weight(mask, output)
    drifts = []
    for i in range(len(output)):
        histogram = DriftHistogram(output.shape[1])
        sample = slice(i, i + 1)
        histogram.add(
            relative_low_pass_change(output[sample], optical[sample], weight[sample]), weight[i, 0] > 0
        )
        drift = histogram.drift()
        drifts.append(
            torch.full((output.shape[1],), torch.nan, dtype=torch.float64)
            if drift is None
            else torch.from_numpy(drift)
        )
    return torch.stack(drifts)


class DriftHistogram:
    """Histogram of each band's relative low-pass change, for :func:`band_drift` of a tile or a scene.

    ``update(output, optical, valid)`` adds one block given as numpy arrays (``(C, h, w)``
    reflectance, bool ``(h, w)``; the low-pass stays inside the block); ``drift()`` is the per-band
    drift of all pixels added, to ``HISTOGRAM_STEP`` (``None`` before any valid pixel).
    """

    def __init__(self, channels: int) -> None:
        self.bins = round(2 * HISTOGRAM_RANGE / HISTOGRAM_STEP) + 1
        self.counts = np.zeros((channels, self.bins), dtype=np.int64)
        self.pixels = 0

    def update(self, output: np.ndarray, optical: np.ndarray, valid: np.ndarray) -> None:
        """Add a block's valid pixels."""
        if not valid.any():
            return
        out_t, opt_t, mask = (
            torch.from_numpy(np.nan_to_num(a))[None] for a in (output, optical, valid[None])
        )
        self.add(relative_low_pass_change(out_t, opt_t, mask), torch.from_numpy(valid))

    def add(self, change: Tensor, valid: Tensor) -> None:
        """Add the valid pixels (bool ``(H, W)``) of a ``(1, C, H, W)`` :func:`relative_low_pass_change`."""
        values = change[0][:, valid].double().cpu().numpy()
        index = np.clip(np.rint(values / HISTOGRAM_STEP) + self.bins // 2, 0, self.bins - 1).astype(np.int64)
        for band, band_index in enumerate(index):
            self.counts[band] += np.bincount(band_index, minlength=self.bins)
        self.pixels += values.shape[1]

    def drift(self) -> np.ndarray | None:
        """Per-band drift ``(C,)`` of the pixels added so far (module docstring)."""
        if self.pixels == 0:
            return None
        cumulative = self.counts.cumsum(axis=1)
        low, high = (
            ((cumulative >= share * self.pixels).argmax(axis=1) - self.bins // 2) * HISTOGRAM_STEP
            for share in (1 - DRIFT_COVER, DRIFT_COVER)
        )
        return np.where(low > 0, low, np.where(high < 0, high, 0.0))
