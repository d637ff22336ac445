"""Research-code example: extend ``SARGroundingTask`` with an extra loss term.

``TotalVariationGroundingTask`` penalises the total variation of the correction the model applies
(output - Stage 2 input), discouraging speckle-like changes. Train it from YAML with::

    PYTHONPATH=examples terratorch fit -c examples/tv_grounding.yaml
"""

from __future__ import annotations

from typing import Any

from kornia.losses import total_variation
from torch import Tensor

from axion_terratorch import SARGroundingTask
from axion_terratorch.constants import OPTICAL_KEY


class TotalVariationGroundingTask(SARGroundingTask):
    """``SARGroundingTask`` plus ``tv_weight`` x mean total variation of the correction.

    Args:
        tv_weight: Weight of the total-variation term.
        **kwargs: Arguments of :class:`SARGroundingTask` (jsonargparse exposes them in YAML).
    """

    def __init__(self, tv_weight: float = 0.05, **kwargs: Any) -> None:
        self.tv_weight = tv_weight
        super().__init__(**kwargs)

    def compute_loss(self, output: Tensor, batch: dict[str, Any]) -> dict[str, Tensor]:
        """The parent's terms plus ``total_variation``, added to the total with ``tv_weight``."""
        terms = super().compute_loss(output, batch)
        correction = output - batch["image"][OPTICAL_KEY]
        tv = total_variation(correction, reduction="mean").mean()
        terms["total_variation"] = tv
        terms["loss"] = terms["loss"] + self.tv_weight * tv
        return terms
