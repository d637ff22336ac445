"""SAR agreement as a bounded constraint: raise the output's agreement up to a ceiling (the hinge),
charge agreement past it (the excess)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from axion_terratorch.checks import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import AGREEMENT_RHO, AGREEMENT_SAR_SIGMA
from axion_terratorch.losses.functional import sar_agreement_excess, sar_agreement_hinge

#: Default margin above the Stage 2 input's agreement for tiles without a target.
SAR_HEADROOM = 0.05


class SARAgreementCeiling(nn.Module):
    """Base of the two sides of the SAR constraint: the ceiling of each tile and its settings.

    The ceiling is ``agreement(target)`` with a target (real Sentinel-2), else
    ``agreement(optical) + headroom``; it is detached.

    Args:
        headroom: Margin above the input's agreement when there is no target (>= 0).
        bands: Optical bands (R, G, B among them).
        sar_sigma: Gaussian sigma (px) smoothing the SAR before its structure tensor.
        rho: Integration scale (px) of the structure tensors.
    """

    def __init__(
        self,
        headroom: float = SAR_HEADROOM,
        bands: Sequence[str] = DEFAULT_BANDS,
        sar_sigma: float = AGREEMENT_SAR_SIGMA,
        rho: float = AGREEMENT_RHO,
    ) -> None:
        super().__init__()
        check_at_least(0, {"headroom": headroom}, finite=True)
        self.headroom = headroom
        self.bands = tuple(bands)
        self.sar_sigma = sar_sigma
        self.rho = rho

    def reference(self, optical: Tensor, target: Tensor | None) -> tuple[Tensor, float]:
        """The image whose agreement sets the ceiling, and the margin added to it."""
        return (optical, self.headroom) if target is None else (target, 0.0)

    def extra_repr(self) -> str:
        return f"headroom={self.headroom}, bands={self.bands}"


class SARAgreementHinge(SARAgreementCeiling):
    """Hinge on the SAR agreement: ``mean over tiles of relu(ceiling - agreement(output))``.

    The agreement is the SAR-coherence-weighted orientation agreement of the SAR structure term
    (:func:`~axion_terratorch.functional.orientation_agreement` with ``weighting="sar"``). The
    ceiling of each tile (:class:`SARAgreementCeiling`) is

    - with a target (real Sentinel-2): ``agreement(target)``: the output may be pulled up to the true
      image's own agreement and is never rewarded for going past it;
    - without one: ``agreement(optical) + headroom``: never rewards raising the agreement more than
      ``headroom`` above the Stage 2 input's.

    Unlike ``1 - agreement`` (:class:`SARConsistencyLoss`), whose minimum is an image that copies the
    SAR's structure, the hinge is 0 as soon as the output agrees as much as the ceiling, so
    imprinting SAR texture beyond it lowers nothing.

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)``
          dB; mask: ``(B, 1, H, W)`` (True = valid).
        - Output: scalar in ``[0, 2 + headroom]``.
    """

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Mean hinge over tiles (scalar): against ``target`` if given, else ``optical + headroom``."""
        reference, margin = self.reference(optical, target)
        return sar_agreement_hinge(output, reference, sar, margin, self.bands, mask, self.sar_sigma, self.rho)


class SARAgreementExcess(SARAgreementCeiling):
    """Over-grounding: ``mean over tiles of relu(agreement(output) - ceiling)``.

    The other side of :class:`SARAgreementHinge`: it charges agreement past the true image's (or past
    the input's plus ``headroom``) and never pulls agreement up. The agreement is the project's
    metric (:func:`~axion_terratorch.metrics.functional.sar_agreement`, jointly coherence-weighted),
    the one ``sar_agreement_excess`` logs, so the term and the logged excess are the same number
    (:func:`~axion_terratorch.losses.functional.sar_agreement_excess` says why not the hinge's).

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)``
          dB; mask: ``(B, 1, H, W)`` (True = valid).
        - Output: scalar in ``[0, 2]``.
    """

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Mean excess over tiles (scalar): against ``target`` if given, else ``optical + headroom``."""
        reference, margin = self.reference(optical, target)
        return sar_agreement_excess(
            output, reference, sar, margin, self.bands, mask, self.sar_sigma, self.rho
        )
