"""The training-free SAR-guided filter the grounding models are compared with."""

import pytest
import torch

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import SARGuidedFilter


def step_scene(size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A SAR and a true optical image with one vertical edge in the middle."""
    truth = torch.full((1, 4, size, size), 0.05)
    truth[..., size // 2 :] = 0.25
    sar = torch.full((1, 2, size, size), -18.0)
    sar[..., size // 2 :] = -8.0
    return sar, truth


def test_the_sar_edge_survives_where_a_plain_blur_would_smear_it():
    """A noisy optical estimate is smoothed, but the edge the SAR confirms stays sharp: the output
    is closer to the truth than the input and than the same filter guided by a flat SAR."""
    sar, truth = step_scene()
    noisy = truth + 0.03 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))
    guided = SARGuidedFilter(radius=3, eps=0.01)
    output = guided({SAR_KEY: sar, OPTICAL_KEY: noisy})
    flat = guided({SAR_KEY: torch.full_like(sar, -12.0), OPTICAL_KEY: noisy})
    error = (output - truth).abs().mean()
    assert error < 0.5 * (noisy - truth).abs().mean()
    assert error < (flat - truth).abs().mean()
    assert output.shape == noisy.shape


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="radius"):
        SARGuidedFilter(radius=0)
    with pytest.raises(ValueError, match="eps"):
        SARGuidedFilter(eps=0)
