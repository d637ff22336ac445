"""The perceptual term: LPIPS between the output and the Stage 2 input."""

from __future__ import annotations

from torch import Tensor

from axion_terratorch.losses.composite import TermModule
from axion_terratorch.lpips import LPIPSDistance


class LPIPSLoss(TermModule, LPIPSDistance):
    """Mean LPIPS between the output and the Stage 2 input over valid pixels (scalar), on the RGB bands.

    :class:`~axion_terratorch.lpips.LPIPSDistance` (its arguments, its frozen network) called as a
    loss term (:data:`~axion_terratorch.losses.LossTerm`).
    """

    def term(self, output: Tensor, optical: Tensor, mask: Tensor | None) -> Tensor:
        """LPIPS(output, optical) averaged over valid pixels."""
        return LPIPSDistance.forward(self, output, optical, mask)
