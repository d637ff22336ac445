"""Stand-ins of a user's own modules: a grounding model for tests of the training loop's plumbing
(resume, checkpoints, callbacks), and a loss term added from YAML.

torchgeo's trainer tests do the same: a model with the task's interface that costs nothing, so a test
of the loop spends its time in the loop. Tests of what TerraMind computes use TerraMind.
"""

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.models.inputs import unpack_image


class PixelGrounding(nn.Module):
    """The optical estimate plus a 1x1 convolution of the optical and SAR bands.

    Args:
        bands: Optical bands, in order.

    Shape:
        - Input: ``{"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance}``.
        - Output: ``(B, C, H, W)`` reflectance.
    """

    def __init__(self, bands: Sequence[str] = DEFAULT_BANDS) -> None:
        super().__init__()
        self.bands = tuple(bands)
        self.mix = nn.Conv2d(len(self.bands) + 2, len(self.bands), kernel_size=1)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        sar, optical = unpack_image(image, len(self.bands))
        return optical + 0.01 * self.mix(torch.cat([optical, sar / 20], dim=1))


class Brightness(nn.Module):
    """A loss term of the user's own (the ``LossTerm`` protocol), added from YAML: no package file touched."""

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        return output.mean()
