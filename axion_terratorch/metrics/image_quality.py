"""Image quality against a target over valid pixels: PSNR, SSIM, spectral angle, MAE."""

from __future__ import annotations

import torch
from torch import Tensor

from axion_terratorch.functional import (
    absolute_error_sum,
    psnr_from_mse,
    spectral_angle_sum,
    squared_error_sum,
    ssim_per_sample,
)
from axion_terratorch.metrics.accumulators import Float64Sums, PerSampleMean, SumCount


class MaskedPSNR(SumCount):
    """PSNR in dB over all valid values seen, ``10 log10(data_range^2 / MSE)``.

    ``update(preds, target, mask=None)``, (B, C, H, W). Without a mask it equals torchmetrics'
    ``PeakSignalNoiseRatio(data_range=data_range)``.
    """

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__()
        self.data_range = data_range

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate squared errors of valid values."""
        self.add(*squared_error_sum(preds.detach(), target, mask))

    def compute(self) -> Tensor:
        """PSNR of everything accumulated."""
        return psnr_from_mse(self.total / self.count.clamp_min(1), self.data_range).float()


class PSNRGain(Float64Sums):
    """PSNR of ``preds`` minus PSNR of ``reference``, both against ``target``, in dB.

    ``update(preds, reference, target, mask=None)``, (B, C, H, W). From the squared errors summed over
    every valid value seen (as :class:`MaskedPSNR`): ``10 log10(SSE_reference / SSE_preds)``, so it
    equals ``MaskedPSNR(preds) - MaskedPSNR(reference)`` over the same data; 0 when both errors are
    equal (``preds == reference``), positive when ``preds`` is closer to the target.
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_sums("preds_sse", "reference_sse")

    def update(self, preds: Tensor, reference: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the squared errors of both images over valid values."""
        self.preds_sse += squared_error_sum(preds.detach(), target, mask)[0].double()
        self.reference_sse += squared_error_sum(reference.detach(), target, mask)[0].double()

    def compute(self) -> Tensor:
        """The PSNR gain of everything accumulated."""
        gain = 10 * (torch.log10(self.reference_sse) - torch.log10(self.preds_sse))
        return torch.where(self.preds_sse == self.reference_sse, 0.0, gain).float()


class MaskedSSIM(PerSampleMean):
    """Mean SSIM over samples; each sample's SSIM map is averaged over its valid pixels.

    ``update(preds, target, mask=None)``. Without a mask it equals torchmetrics'
    ``StructuralSimilarityIndexMeasure(data_range=data_range)``.
    """

    def __init__(self, data_range: float = 1.0) -> None:
        super().__init__()
        self.data_range = data_range

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the SSIM of each sample."""
        self.accumulate(ssim_per_sample(preds.detach(), target, mask, self.data_range))


class SpectralAngle(SumCount):
    """Mean spectral angle (radians) over valid pixels (SAM; lower is better).

    ``update(preds, target, mask=None)``. Without a mask it equals torchmetrics' ``SpectralAngleMapper``.
    """

    higher_is_better = False

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the angles of valid pixels."""
        self.add(*spectral_angle_sum(preds.detach(), target, mask))


class MaskedMAE(Float64Sums):
    """Mean absolute error over valid pixels, overall or per band (``per_band=True`` gives (C,)).

    ``update(preds, target, mask=None)``, (B, C, H, W) reflectance.
    """

    higher_is_better = False

    def __init__(self, num_bands: int = 4, per_band: bool = False) -> None:
        super().__init__()
        self.per_band = per_band
        self.add_sums("total", shape=(num_bands,))
        self.add_sums("count")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate per-band absolute errors of valid pixels."""
        if preds.shape[1] != self.total.numel():
            msg = f"MaskedMAE was built for {self.total.numel()} bands, got preds {tuple(preds.shape)}"
            raise ValueError(msg)
        total, count = absolute_error_sum(preds.detach(), target, mask)
        self.total += total.double()
        self.count += count.double()

    def compute(self) -> Tensor:
        """MAE overall (scalar) or per band (C,)."""
        per_band = self.total / self.count.clamp_min(1)
        return (per_band if self.per_band else per_band.mean()).float()
