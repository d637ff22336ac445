"""The perceptual term: LPIPS between the output and the Stage 2 input."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.losses.composite import TermModule
from axion_terratorch.lpips import LPIPSDistance, LPIPSNet


class LPIPSLoss(TermModule):
    """Mean LPIPS between the output and the Stage 2 input over valid pixels (scalar), on the RGB bands.

    A loss term (:class:`~axion_terratorch.losses.LossTerm`) over
    :class:`~axion_terratorch.lpips.LPIPSDistance`, which holds the frozen network.

    Args:
        bands: Bands of the optical inputs; must include B02, B03 and B04.
        net: LPIPS backbone.
        rgb_max: Reflectance shown as full white.
        pretrained_backbone: Use torchvision's ImageNet weights (needs them on disk or a network);
            ``False`` is an explicit opt-in to random backbone weights, for tests.
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        net: LPIPSNet = "alex",
        rgb_max: float = 0.3,
        pretrained_backbone: bool = True,
    ) -> None:
        super().__init__()
        self.distance = LPIPSDistance(bands, net, rgb_max, pretrained_backbone)

    def term(self, output: Tensor, optical: Tensor, mask: Tensor | None) -> Tensor:
        """LPIPS(output, optical) averaged over valid pixels."""
        return self.distance(output, optical, mask)
