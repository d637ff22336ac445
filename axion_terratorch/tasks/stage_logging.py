"""What :class:`~axion_terratorch.tasks.SARGroundingTask` logs per stage, and under which names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch import LightningModule
from torch import Tensor

from axion_terratorch.constants import OPTICAL_KEY
from axion_terratorch.metrics import GroundingMetrics

#: Validation metrics on the progress bar: fidelity, its gain over the input, and the SAR agreement
#: with its excess over the true image's (the over-grounding signal the docs say to watch).
PROGRESS_BAR_METRICS = ("psnr", "psnr_gain", "sar_agreement", "sar_agreement_excess")


def batch_size(batch: Mapping[str, Any]) -> int:
    """Samples in a batch (its optical input's first dimension), the ``batch_size=`` of each log."""
    return int(batch["image"][OPTICAL_KEY].shape[0])


def term_names(stage: str, terms: Mapping[str, Tensor], weights: Mapping[str, float]) -> dict[str, Tensor]:
    """``<stage>/loss/<term>`` for the terms in the total, ``<stage>/monitor/<term>`` for those
    ``weights`` (the loss's ``weights`` mapping) weighs 0: computed, not trained on. The total
    (``"loss"``) is left out."""
    return {
        f"{stage}/{'monitor' if weights.get(name, 1) == 0 else 'loss'}/{name}": value
        for name, value in terms.items()
        if name != "loss"
    }


def log_metrics(module: LightningModule, stage: str, metrics: GroundingMetrics) -> None:
    """Log ``<stage>/<metric>`` for every metric computed (those of :data:`PROGRESS_BAR_METRICS` on
    the progress bar), then reset ``metrics``."""
    # torchmetrics synchronises its states across processes in compute().
    for name, value in metrics.compute().items():
        module.log(f"{stage}/{name}", value, prog_bar=name in PROGRESS_BAR_METRICS)
    metrics.reset()
