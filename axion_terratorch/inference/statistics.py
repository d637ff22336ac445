"""Scene statistics of a grounded output, accumulated block by block for its JSON sidecar."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from axion_terratorch.functional import sar_agreement
from axion_terratorch.lpips import LPIPSDistance, left_out_note, wants_lpips
from axion_terratorch.metrics.drift import DriftHistogram
from axion_terratorch.metrics.imprint import imprint_from_sums, sar_imprint_sums

logger = logging.getLogger(__name__)


def optional_lpips(
    bands: Sequence[str], enabled: bool | None = None
) -> tuple[LPIPSDistance | None, str | None]:
    """LPIPS on ``bands`` if wanted, else ``None`` and the reason.

    ``enabled``: ``None`` when its backbone weights are on this machine (the note then says how to
    add it: ``--lpips``), ``True`` always (a download if need be; a warning when that fails),
    ``False`` never.
    """
    if enabled is False:
        return None, "LPIPS turned off"
    if not wants_lpips(enabled):
        return None, left_out_note("alex", "--lpips")
    try:
        return LPIPSDistance(bands), None
    except RuntimeError as err:  # backbone weights missing offline: the message says where to put them
        logger.warning("LPIPS change left out: %s", err)
        return None, f"LPIPS unavailable: {err}"


#: Blocks with fewer valid pixels do not enter the scene's SAR agreement or LPIPS (too little structure).
MIN_BLOCK_PIXELS = 256


class SceneStatistics:
    """SAR agreement of input, output and change, SAR imprint, LPIPS change, per-band change and band drift.

    ``update(output, optical, sar, valid, score)`` takes one block as numpy arrays: ``output`` and
    ``optical`` float32 ``(C, h, w)`` reflectance, ``sar`` ``(2, h, w)`` dB, ``valid`` bool ``(h, w)``.
    Changes (``output - optical``) are exact sums over all valid pixels. Agreements and LPIPS are
    computed on the blocks given with ``score=True`` (:func:`~axion_terratorch.functional.sar_agreement`
    with the block's valid mask) and averaged weighted by their valid pixel counts; the SAR imprint
    (:func:`~axion_terratorch.metrics.imprint.sar_imprint`) adds up the same blocks' sums. The band
    drift (:func:`~axion_terratorch.metrics.drift.band_drift`) is over all valid pixels of every block.

    Args:
        bands: Optical bands (B02, B03, B04 needed for luminance and LPIPS).
        lpips: An :class:`LPIPSDistance` for the LPIPS change, or ``None`` to leave it out.
        device: Torch device of the agreement and LPIPS computations.
    """

    def __init__(self, bands: Sequence[str], lpips: LPIPSDistance | None = None, device: str = "cpu") -> None:
        self.bands = tuple(bands)
        self.device = torch.device(device)
        self.lpips = None if lpips is None else lpips.to(self.device)
        channels = len(self.bands)
        self.pixels = 0
        self.valid_pixels = 0
        self._sum = np.zeros(channels)
        self._sum_abs = np.zeros(channels)
        self._sum_sq = np.zeros(channels)
        self._max_abs = np.zeros(channels)
        self._scored = 0  # valid pixels of the scored blocks
        self._agreement = np.zeros(3)  # input, output, change (output - input)
        self._imprint_sums = (torch.zeros(1, channels, dtype=torch.float64),) * 2 + (
            torch.zeros(1, dtype=torch.float64),
        )
        self._lpips = 0.0
        self._drift = DriftHistogram(channels)
        #: Windows where ``predict --fallback input`` wrote the input (set by the scene writer).
        self.fallback_windows = 0
        #: Windows run through the model: those holding a valid optical pixel (set by the scene writer).
        self.windows = 0

    def update(
        self, output: np.ndarray, optical: np.ndarray, sar: np.ndarray, valid: np.ndarray, score: bool = True
    ) -> None:
        """Add one block; ``score`` it for SAR agreement and LPIPS too."""
        self.pixels += valid.size
        count = int(valid.sum())
        if count == 0:
            return
        self.valid_pixels += count
        change = output[:, valid] - optical[:, valid]  # float32 (C, n); sums in float64
        self._sum += change.sum(axis=1, dtype=np.float64)
        self._sum_sq += np.einsum("ij,ij->i", change, change, dtype=np.float64)
        np.abs(change, out=change)
        self._sum_abs += change.sum(axis=1, dtype=np.float64)
        self._max_abs = np.maximum(self._max_abs, change.max(axis=1))
        self._drift.update(output, optical, valid)
        if not score or count < MIN_BLOCK_PIXELS:
            return
        out_t, opt_t, sar_t, mask = (
            torch.from_numpy(np.nan_to_num(a))[None].to(self.device)
            for a in (output, optical, sar, valid[None])
        )
        with torch.inference_mode():
            images = (opt_t, out_t, out_t - opt_t)
            scores = [sar_agreement(image, sar_t, self.bands, mask).item() for image in images]
            dot, change_sq, sar_sq = sar_imprint_sums(out_t, opt_t, sar_t, mask)
            if self.lpips is not None:
                self._lpips += count * self.lpips.per_sample(out_t, opt_t, mask).item()
        self._agreement += count * np.asarray(scores)
        self._imprint_sums = tuple(
            total + new.cpu() for total, new in zip(self._imprint_sums, (dot, change_sq, sar_sq), strict=True)
        )
        self._scored += count

    def summary(self) -> dict[str, object]:
        """JSON-ready statistics; agreement, imprint and LPIPS are ``None`` when no block had enough valid pixels
        (band drift when no pixel was valid)."""
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
        agreement_in = agreement_out = agreement_change = lpips = imprint = None
        if self._scored:
            agreement_in, agreement_out, agreement_change = (float(v) for v in self._agreement / self._scored)
            imprint = imprint_from_sums(*self._imprint_sums).item()
            lpips = float(self._lpips / self._scored) if self.lpips is not None else None
        drift = self._drift.drift()
        return {
            "sar_agreement_input": agreement_in,
            "sar_agreement": agreement_out,
            "sar_agreement_gain": None if agreement_in is None else agreement_out - agreement_in,
            "sar_imprint": imprint,
            "sar_agreement_change": agreement_change,
            "lpips_change": lpips,
            "band_drift": None if drift is None else dict(zip(self.bands, drift.tolist(), strict=True)),
            "valid_fraction": self.valid_pixels / max(self.pixels, 1),
            "change": change,
        }
