"""Fixtures of the callback tests: a tiny real grounding model."""

import copy

import pytest
import torch
from callback_run import BANDS

from axion_terratorch.models import TerraMindResidualGrounding


@pytest.fixture(scope="session")
def _tiny_model() -> TerraMindResidualGrounding:
    torch.manual_seed(0)
    return TerraMindResidualGrounding(variant="tiny", pretrained=False, bands=BANDS, decoder_channels=8)


@pytest.fixture
def tiny_model(_tiny_model) -> TerraMindResidualGrounding:
    """A fresh copy of a tiny random TerraMind grounding model with LoRA."""
    return copy.deepcopy(_tiny_model)
