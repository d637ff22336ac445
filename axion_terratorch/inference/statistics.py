"""Scene statistics of a grounded output, accumulated block by block for its JSON sidecar."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from axion_terratorch.losses.lpips import LPIPSLoss
from axion_terratorch.metrics.functional import sar_agreement

logger = logging.getLogger(__name__)


def optional_lpips(bands: Sequence[str], enabled: bool = True) -> tuple[LPIPSLoss | None, str | None]:
    """LPIPS on ``bands`` if wanted and its backbone weights can be had, else ``None`` and the reason."""
    if not enabled:
        return None, "LPIPS turned off"
    try:
        return LPIPSLoss(bands), None
    except RuntimeError as err:  # backbone weights missing offline: the message says where to put them
        logger.warning("LPIPS change left out: %s", err)
        return None, f"LPIPS unavailable: {err}"


#: Blocks with fewer valid pixels do not enter the scene's SAR agreement or LPIPS (too little structure).
MIN_BLOCK_PIXELS = 256


class SceneStatistics:
    """SAR agreement of input and output, LPIPS change and per-band change, over valid pixels.

    ``update(output, optical, sar, valid)`` takes one block as numpy arrays: ``output`` and
    ``optical`` float32 ``(C, h, w)`` reflectance, ``sar`` ``(2, h, w)`` dB, ``valid`` bool ``(h, w)``.
    Agreements and LPIPS are computed per block (:func:`~axion_terratorch.metrics.functional.sar_agreement`
    with the block's valid mask) and averaged weighted by the blocks' valid pixel counts; changes
    (``output - optical``) are exact sums over all valid pixels.

    Args:
        bands: Optical bands (B02, B03, B04 needed for luminance and LPIPS).
        lpips: An :class:`LPIPSLoss` for the LPIPS change, or ``None`` to leave it out.
    """

    def __init__(self, bands: Sequence[str], lpips: LPIPSLoss | None = None) -> None:
        self.bands = tuple(bands)
        self.lpips = lpips
        channels = len(self.bands)
        self.pixels = 0
        self.valid_pixels = 0
        self._sum = np.zeros(channels)
        self._sum_abs = np.zeros(channels)
        self._sum_sq = np.zeros(channels)
        self._max_abs = np.zeros(channels)
        self._scored = 0
        self._agreement = np.zeros(2)  # input, output
        self._lpips = 0.0

    def update(self, output: np.ndarray, optical: np.ndarray, sar: np.ndarray, valid: np.ndarray) -> None:
        """Add one block."""
        self.pixels += valid.size
        count = int(valid.sum())
        if count == 0:
            return
        self.valid_pixels += count
        change = (output[:, valid] - optical[:, valid]).astype(np.float64)
        self._sum += change.sum(axis=1)
        self._sum_abs += np.abs(change).sum(axis=1)
        self._sum_sq += (change * change).sum(axis=1)
        self._max_abs = np.maximum(self._max_abs, np.abs(change).max(axis=1))
        if count < MIN_BLOCK_PIXELS:
            return
        out_t, opt_t, sar_t = (torch.from_numpy(np.nan_to_num(a))[None] for a in (output, optical, sar))
        mask = torch.from_numpy(valid)[None, None]
        with torch.inference_mode():
            scores = [sar_agreement(image, sar_t, self.bands, mask).item() for image in (opt_t, out_t)]
            if self.lpips is not None:
                self._lpips += count * self.lpips.per_sample(out_t, opt_t, mask).item()
        self._agreement += count * np.asarray(scores)
        self._scored += count

    def summary(self) -> dict[str, object]:
        """JSON-ready statistics; agreement and LPIPS are ``None`` when no block had enough valid pixels."""
        n = max(self.valid_pixels, 1)
        mean = self._sum / n
        change = {
            band: {
                "mean": float(mean[i]),
                "mean_abs": float(self._sum_abs[i] / n),
                "std": float(np.sqrt(max(self._sum_sq[i] / n - mean[i] ** 2, 0.0))),
                "max_abs": float(self._max_abs[i]),
            }
            for i, band in enumerate(self.bands)
        }
        agreement_in = agreement_out = lpips = None
        if self._scored:
            agreement_in, agreement_out = (float(v) for v in self._agreement / self._scored)
            lpips = float(self._lpips / self._scored) if self.lpips is not None else None
        return {
            "sar_agreement_input": agreement_in,
            "sar_agreement_output": agreement_out,
            "sar_agreement_gain": None if agreement_in is None else agreement_out - agreement_in,
            "lpips_change": lpips,
            "valid_fraction": self.valid_pixels / max(self.pixels, 1),
            "change": change,
        }
