"""SAR agreement metrics: how well an optical image's structure follows the Sentinel-1 image."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from axion_terratorch.constants import DEFAULT_BANDS, rgb_indices
from axion_terratorch.metrics.functional import (
    AGREEMENT_RHO,
    AGREEMENT_SAR_SIGMA,
    edge_cosine_agreement,
    sar_agreement,
)


class _SumCount(Metric):
    """A sum and a count (float64, reduced by sum across ranks); ``compute()`` is their ratio."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def compute(self) -> Tensor:
        """Sum over count (0 before any update)."""
        return (self.total / self.count.clamp_min(1)).float()


class _PerSampleMean(_SumCount):
    """Mean over samples of a per-sample score."""

    is_differentiable = True
    higher_is_better = True

    def _accumulate(self, scores: Tensor) -> None:
        self.total += scores.detach().double().sum()
        self.count += scores.numel()


class SARAgreement(_PerSampleMean):
    """The project's SAR agreement: coherence-weighted structure-tensor orientation agreement.

    ``update(preds, sar, mask=None)`` with ``preds`` (B, C, H, W) reflectance in ``bands``, ``sar``
    (B, 2, H, W) VV/VH dB, ``mask`` (B, 1, H, W) valid pixels; ``compute()`` is the mean over samples
    of :func:`~axion_terratorch.metrics.functional.sar_agreement`, in [-1, 1] (higher is better).

    Example:
        >>> metric = SARAgreement()
        >>> sar = torch.randn(2, 2, 32, 32) - 12
        >>> metric.update(torch.rand(2, 4, 32, 32), sar)
        >>> metric.compute().shape
        torch.Size([])
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        sar_sigma: float = AGREEMENT_SAR_SIGMA,
        rho: float = AGREEMENT_RHO,
    ) -> None:
        super().__init__()
        rgb_indices(bands)
        self.bands = tuple(bands)
        self.sar_sigma = sar_sigma
        self.rho = rho

    def score(self, preds: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
        """Per-sample agreement, (B,)."""
        return sar_agreement(preds, sar, self.bands, mask, self.sar_sigma, self.rho)

    def update(self, preds: Tensor, sar: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the agreement of each sample of ``preds`` with ``sar``."""
        self._accumulate(self.score(preds, sar, mask))


class EdgeCosineAgreement(SARAgreement):
    """The seed's SAR agreement (cosine of max-normalised Sobel magnitudes), in [0, 1].

    Kept for comparison with the seed's targets (+0.05..0.10 gain, > 0.70); it rewards blur, so the
    project does not train or stop on it. Same ``update`` signature as :class:`SARAgreement`.
    """

    def score(self, preds: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
        """Per-sample seed agreement, (B,)."""
        return edge_cosine_agreement(preds, sar, self.bands, mask)


class SARAgreementGain(_PerSampleMean):
    """Mean over samples of ``agreement(preds) - agreement(reference)`` (the Stage 2 input).

    ``update(preds, reference, sar, mask=None)``; positive when grounding improved the agreement.
    ``agreement`` is a :class:`SARAgreement` (or :class:`EdgeCosineAgreement`) used for its formula.
    """

    def __init__(self, agreement: SARAgreement | None = None) -> None:
        super().__init__()
        self.agreement = SARAgreement() if agreement is None else agreement
        self.bands = self.agreement.bands

    def update(self, preds: Tensor, reference: Tensor, sar: Tensor, mask: Tensor | None = None) -> None:
        """Accumulate the per-sample gain of ``preds`` over ``reference``."""
        gain = self.agreement.score(preds, sar, mask) - self.agreement.score(reference, sar, mask)
        self._accumulate(gain)
