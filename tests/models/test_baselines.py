"""The training-free SAR baselines the grounding models are compared with: guided filter and SAR fill."""

import pytest
import torch
import torch.nn.functional as F

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import SARFill, SARGuidedFilter


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


def fields_scene(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A SAR and a true optical image of smooth fields whose reflectance follows their backscatter."""
    generator = torch.Generator().manual_seed(0)
    pattern = F.interpolate(torch.rand(1, 1, 8, 8, generator=generator), size=size, mode="bilinear")
    truth = torch.cat([0.05 + 0.1 * pattern, 0.3 - 0.2 * pattern], dim=1).repeat(1, 2, 1, 1)
    noise = 0.3 * torch.randn(1, 2, size, size, generator=generator)
    return -18 + 10 * pattern.expand(1, 2, size, size) + noise, truth


def test_sar_fill_replaces_what_the_sar_contradicts_and_keeps_the_rest():
    """A cloud and a one-pixel road the SAR does not show: the cloud's core takes the scene's
    SAR-to-optical fit, the road and the clear fields stay exactly as they were, and the SAR turned
    180 degrees fills the cloud with something else."""
    sar, truth = fields_scene()
    estimate = truth.clone()
    estimate[..., 40, :] = 0.35  # a road
    estimate[..., 8:28, 12:44] = 0.6  # a cloud
    fill = SARFill()
    output = fill({SAR_KEY: sar, OPTICAL_KEY: estimate})
    wrong = fill({SAR_KEY: sar.flip(-2, -1), OPTICAL_KEY: estimate})
    core = (..., slice(12, 24), slice(16, 40))
    assert (output - truth)[core].abs().mean() < 0.05 * (estimate - truth)[core].abs().mean()
    assert (output - truth)[core].abs().mean() < 0.5 * (wrong - truth)[core].abs().mean()
    assert torch.equal(output[..., 36:, :], estimate[..., 36:, :])


def test_sar_fill_follows_the_input_radiometry():
    """Any per-band gain and offset of the input come out of the fill unchanged: the fit is the scene's
    own relation, so no band is pulled towards other scenes' colours (another processing level)."""
    sar, truth = fields_scene()
    estimate = truth.clone()
    estimate[..., 8:28, 12:44] = 0.6
    gain = torch.tensor([1.3, 0.8, 1.1, 0.9]).view(1, 4, 1, 1)
    offset = torch.tensor([0.09, 0.05, 0.02, -0.01]).view(1, 4, 1, 1)
    fill = SARFill()
    output = fill({SAR_KEY: sar, OPTICAL_KEY: estimate})
    shifted = fill({SAR_KEY: sar, OPTICAL_KEY: gain * estimate + offset})
    assert torch.allclose(shifted, gain * output + offset, atol=1e-5)


def test_sar_fill_settings_are_checked_by_name():
    with pytest.raises(ValueError, match="threshold"):
        SARFill(threshold=0)
    with pytest.raises(ValueError, match="threshold"):
        SARFill(threshold=1.5)
    with pytest.raises(ValueError, match="sigma"):
        SARFill(sigma=-1)
