"""Training-free SAR-guided baselines: what a learned grounding must beat."""

from __future__ import annotations

from collections.abc import Sequence

from kornia.filters import guided_blur
from torch import Tensor, nn

from axion_terratorch.argument_bounds import check_at_least, check_positive
from axion_terratorch.constants import DEFAULT_BANDS, S1GRD_MEAN, S1GRD_STD
from axion_terratorch.functional import smooth
from axion_terratorch.models.inputs import unpack_image


class TrainingFreeBaseline(nn.Module):
    """A training-free SAR-guided baseline: no weights, and the input and output of the grounding
    models, so ``benchmarks/real_pairs.py`` scores it like them.

    Args:
        bands: Optical bands of the input.

    Shape:
        - Input: ``{"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance}``.
        - Output: ``(B, C, H, W)`` reflectance.
    """

    def __init__(self, bands: Sequence[str] = DEFAULT_BANDS) -> None:
        super().__init__()
        self.bands = tuple(bands)

    def unpack(self, image: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``(sar, optical)`` of ``image``, checked against :attr:`bands` (:func:`unpack_image`)."""
        return unpack_image(image, len(self.bands))


class SARGuidedFilter(TrainingFreeBaseline):
    """Guided filter of the optical estimate with the SAR as guide (He et al., 2013; kornia's ``guided_blur``).

    Each optical band becomes, in every window, the linear function of the SAR intensity that fits it
    best: where the SAR has an edge the optical keeps (or gains) one, elsewhere it is smoothed. The
    guide is the mean of the standardised VV and VH (TerraMind's statistics), despeckled by a
    Gaussian of ``despeckle_sigma`` pixels. A :class:`TrainingFreeBaseline` (its input and output).

    Args:
        bands: Optical bands (only their number is used).
        radius: Window radius of the filter, pixels.
        eps: Regularisation of the local fit, in squared guide units: larger keeps more of the input.
        despeckle_sigma: Gaussian sigma applied to the SAR guide first, pixels (0: none).
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        radius: int = 2,
        eps: float = 0.1,
        despeckle_sigma: float = 1.0,
    ) -> None:
        super().__init__(bands)
        check_at_least(1, {"radius": radius})
        check_positive({"eps": eps})
        check_at_least(0, {"despeckle_sigma": despeckle_sigma})
        self.radius = radius
        self.eps = eps
        self.despeckle_sigma = despeckle_sigma

    def guide(self, sar: Tensor) -> Tensor:
        """The despeckled SAR intensity, ``(B, 1, H, W)`` in standard units."""
        mean = sar.new_tensor(S1GRD_MEAN).view(1, -1, 1, 1)
        std = sar.new_tensor(S1GRD_STD).view(1, -1, 1, 1)
        return smooth(((sar - mean) / std).mean(dim=1, keepdim=True), self.despeckle_sigma)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """Return the filtered optical image, ``(B, C, H, W)`` reflectance."""
        sar, optical = self.unpack(image)
        guide = self.guide(sar).expand_as(optical)
        return guided_blur(guide, optical, 2 * self.radius + 1, self.eps)

    def extra_repr(self) -> str:
        return f"radius={self.radius}, eps={self.eps}, despeckle_sigma={self.despeckle_sigma}"
