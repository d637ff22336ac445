"""Training-free SAR fill: where the SAR contradicts the optical estimate, take what the scene's own
SAR-to-optical relation says is there."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import smooth
from axion_terratorch.functional.sar_regression import robust_sar_regression, sar_guide
from axion_terratorch.models.baselines import TrainingFreeBaseline

#: Fit weight below which a pixel starts to take the fit (it takes all of it at weight 0).
FILL_THRESHOLD = 0.1
#: Gaussian sigma (px) the fit's weights are smoothed with first: a thin feature the SAR does not
#: show (a road, a roof) is kept, a cloud or an invented field is not.
FILL_SIGMA = 2.0


class SARFill(TrainingFreeBaseline):
    """Fill what the SAR contradicts with the tile's robust SAR-to-optical fit.

    Each band of the optical estimate is fitted over the whole tile on the despeckled VV and VH by
    reweighted least squares that stops weighing the pixels the SAR does not explain
    (:func:`~axion_terratorch.functional.sar_regression.robust_sar_regression`): a cloud, its
    shadow, invented content. Those pixels, found without a mask, take the fit, in the share
    ``1 - w / threshold`` (clipped to [0, 1]) of their smoothed weight ``w``; every other pixel is left
    as it is. The fit is the scene's own relation, in the input's radiometry, so it holds on any
    processing level or season (``docs/quality.md``, "What the SAR adds"). A
    :class:`TrainingFreeBaseline` (its input and output), and the last step of
    ``TerraMindResidualGrounding(sar_fill=True)``.

    Args:
        bands: Optical bands (only their number is used).
        threshold: Fit weight below which a pixel starts to take the fit, in (0, 1].
        sigma: Gaussian sigma (px) smoothing the weights first (0: none).
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        threshold: float = FILL_THRESHOLD,
        sigma: float = FILL_SIGMA,
    ) -> None:
        super().__init__(bands)
        if not 0 < threshold <= 1:
            msg = f"threshold must be in (0, 1], got {threshold}"
            raise ValueError(msg)
        check_at_least(0, {"sigma": sigma})
        self.threshold = threshold
        self.sigma = sigma

    @torch.no_grad()
    def fill(self, optical: Tensor, sar: Tensor) -> tuple[Tensor, Tensor]:
        """The fit ``(B, C, H, W)`` reflectance and each pixel's share of it ``(B, 1, H, W)`` in [0, 1]."""
        fit, weight = robust_sar_regression(optical.float(), sar_guide(sar.float()))
        share = (1 - smooth(weight, self.sigma) / self.threshold).clamp(0, 1)
        return fit.to(optical.dtype), share.to(optical.dtype)

    def blend(self, optical: Tensor, sar: Tensor, output: Tensor | None = None) -> Tensor:
        """``output`` (default: ``optical``) with the fit of ``optical`` on ``sar`` taken in its share."""
        fit, share = self.fill(optical, sar)
        return share * fit + (1 - share) * (optical if output is None else output)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """Return the filled optical image, ``(B, C, H, W)`` reflectance."""
        sar, optical = self.unpack(image)
        return self.blend(optical, sar)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, sigma={self.sigma}"
