"""SAR agreement as a bounded constraint: raise the output's agreement up to a ceiling, never past it."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from axion_terratorch.checks import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import AGREEMENT_RHO, AGREEMENT_SAR_SIGMA
from axion_terratorch.losses.functional import sar_agreement_gaps

#: Default margin above the Stage 2 input's agreement for tiles without a target.
SAR_HEADROOM = 0.05


class SARAgreementHinge(nn.Module):
    """Hinge on the SAR agreement: ``mean over tiles of relu(ceiling - agreement(output))``.

    The agreement is the SAR-coherence-weighted orientation agreement of the SAR structure term
    (:func:`~axion_terratorch.functional.orientation_agreement` with ``weighting="sar"``). The
    ceiling of each tile is

    - with a target (real Sentinel-2): ``agreement(target)``: the output may be pulled up to the true
      image's own agreement and is never rewarded for going past it;
    - without one: ``agreement(optical) + headroom``: never rewards raising the agreement more than
      ``headroom`` above the Stage 2 input's.

    The ceiling is detached. Unlike ``1 - agreement`` (:class:`SARConsistencyLoss`), whose minimum
    is an image that copies the SAR's structure, the hinge is 0 as soon as the output agrees as much
    as the ceiling, so imprinting SAR texture beyond it lowers nothing.

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)``
          dB; mask: ``(B, 1, H, W)`` (True = valid).
        - Output: scalar in ``[0, 2 + headroom]``.

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

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Mean hinge over tiles (scalar): against ``target`` if given, else ``optical + headroom``."""
        return self.gaps(output, optical, sar, target, mask)[0]

    def gaps(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The hinge and the excess past the same ceiling (:func:`sar_agreement_gaps`), computed once."""
        reference, margin = (optical, self.headroom) if target is None else (target, 0.0)
        return sar_agreement_gaps(output, reference, sar, margin, self.bands, mask, self.sar_sigma, self.rho)

    def extra_repr(self) -> str:
        return f"headroom={self.headroom}, bands={self.bands}"
