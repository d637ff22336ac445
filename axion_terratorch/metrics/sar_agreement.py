"""SAR agreement metrics: how well an optical image's structure follows the Sentinel-1 image."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.constants import DEFAULT_BANDS, rgb_indices
from axion_terratorch.functional import (
    AGREEMENT_RHO,
    AGREEMENT_SAR_SIGMA,
    edge_cosine_agreement,
    sar_agreement,
)
from axion_terratorch.metrics.accumulators import PerSampleMean


class SARAgreement(PerSampleMean):
    """The project's SAR agreement: coherence-weighted structure-tensor orientation agreement.

    ``update(preds, sar, mask=None)`` with ``preds`` (B, C, H, W) reflectance in ``bands``, ``sar``
    (B, 2, H, W) VV/VH dB, ``mask`` (B, 1, H, W) valid pixels; ``compute()`` is the mean over samples
    of :func:`~axion_terratorch.functional.sar_agreement`, in [-1, 1] (higher is better).

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
        self.accumulate(self.score(preds, sar, mask))


class EdgeCosineAgreement(SARAgreement):
    """The original Stage 3 guide's SAR agreement (cosine of max-normalised Sobel magnitudes), in [0, 1].

    Kept for comparison with the guide's targets (+0.05..0.10 gain, > 0.70); it rewards blur, so the
    project does not train or stop on it. Same ``update`` signature as :class:`SARAgreement`.
    """

    def score(self, preds: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
        """Per-sample seed agreement, (B,)."""
        return edge_cosine_agreement(preds, sar, self.bands, mask)


class SARAgreementGain(PerSampleMean):
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
        self.accumulate(gain)
