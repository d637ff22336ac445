"""Shared by the real-data data module tests: the fake-tile writers on the path and a tiny task."""

import copy
import functools

import torch

from axion_terratorch import SARGroundingTask
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import TerraMindResidualGrounding

BANDS = ("B02", "B03", "B04", "B08")


@functools.cache
def _tiny_model() -> TerraMindResidualGrounding:
    torch.manual_seed(0)
    return TerraMindResidualGrounding(variant="tiny", pretrained=False, bands=BANDS, decoder_channels=8)


def tiny_task() -> SARGroundingTask:
    """A SARGroundingTask over a fresh copy of a tiny random TerraMind grounding model."""
    return SARGroundingTask(
        model=copy.deepcopy(_tiny_model()),
        loss=Stage3Loss(bands=BANDS, use_lpips=False),
        metrics=GroundingMetrics(bands=BANDS, lpips=False),
    )
