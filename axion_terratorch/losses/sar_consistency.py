"""SAR consistency: structure, edge and texture agreement of the optical output with Sentinel-1."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import SAR_SIGMA, orientation_agreement, sar_edge_loss, sar_texture_loss
from axion_terratorch.losses.composite import TermModule


class SARConsistencyLoss(TermModule):
    """``structure_weight * L_struct + edge_weight * L_edge + texture_weight * L_tex``.

    - ``L_struct``: 1 - SAR-coherence-weighted agreement of structure-tensor orientations
      (:func:`~axion_terratorch.functional.orientation_agreement`, ``weighting="sar"``), mean over
      samples, in [0, 2]: lowest when the output's local orientations follow the SAR's wherever
      the SAR has structure; on real pairs it ranks the true Sentinel-2 below its blurred, shifted,
      shuffled and speckled versions, which the original guide's edge and texture terms do
      not.
    - ``L_edge`` (original guide): backscatter-weighted L1 between max-normalised Sobel magnitudes of the
      optical (channel mean) and the SAR (VV/VH mean, smoothed with ``sar_sigma``).
    - ``L_tex`` (original guide): MSE between 5 x 5 local variances, each divided by its mean.

    Defaults are ``1 / 0 / 0``: on real BigEarthNet pairs (``docs/concepts.md``) the original guide's edge and texture
    terms score the true Sentinel-2 worse than a speckled or blurred copy of it, so they would pull the
    output toward speckle and blur; ``L_struct`` ranks the true image best. The original Stage 3 guide's
    weighting is
    ``structure_weight=0, edge_weight=1.0, texture_weight=0.5, sar_sigma=0``.

    Shape:
        - output: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)`` dB;
          mask: ``(B, 1, H, W)`` (True = valid); optical and target are not used (the arguments of
          every loss term, :data:`~axion_terratorch.losses.LossTerm`).
        - Output: scalar.
    """

    def __init__(
        self,
        structure_weight: float = 1.0,
        edge_weight: float = 0.0,
        texture_weight: float = 0.0,
        sar_sigma: float = SAR_SIGMA,
        bands: Sequence[str] = DEFAULT_BANDS,
    ) -> None:
        super().__init__()
        check_at_least(
            0,
            {
                "structure_weight": structure_weight,
                "edge_weight": edge_weight,
                "texture_weight": texture_weight,
                "sar_sigma": sar_sigma,
            },
        )
        self.structure_weight = structure_weight
        self.edge_weight = edge_weight
        self.texture_weight = texture_weight
        self.sar_sigma = sar_sigma
        self.bands = tuple(bands)

    def term(self, output: Tensor, sar: Tensor, mask: Tensor | None) -> Tensor:
        """Weighted sum of the enabled terms (scalar)."""
        total = output.new_zeros(())
        if self.structure_weight:
            structure = 1 - orientation_agreement(output, sar, self.bands, mask, weighting="sar")
            total = total + self.structure_weight * structure.mean()
        if self.edge_weight:
            total = total + self.edge_weight * sar_edge_loss(output, sar, mask, self.sar_sigma)
        if self.texture_weight:
            total = total + self.texture_weight * sar_texture_loss(output, sar, mask, self.sar_sigma)
        return total

    def extra_repr(self) -> str:
        return (
            f"structure_weight={self.structure_weight}, edge_weight={self.edge_weight}, "
            f"texture_weight={self.texture_weight}, sar_sigma={self.sar_sigma}, bands={self.bands}"
        )
