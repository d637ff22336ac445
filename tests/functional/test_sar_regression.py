"""The scene's own SAR-to-optical fit: what the SAR determines comes back where the optical is not trusted."""

import pytest
import torch

from axion_terratorch.functional.sar_regression import robust_sar_regression, sar_guide, sar_regression


def linear_scene(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A guide ``(1, 2, H, W)`` and an optical image ``(1, 4, H, W)`` that is a linear function of it."""
    generator = torch.Generator().manual_seed(seed)
    guide = torch.randn(1, 2, size, size, generator=generator, dtype=torch.float64)
    slopes = torch.tensor([[0.02, -0.01], [0.03, 0.0], [0.01, 0.02], [-0.02, 0.04]], dtype=torch.float64)
    return guide, 0.1 + torch.einsum("cg,bghw->bchw", slopes, guide)


@pytest.mark.parametrize("sigma", [None, 8.0])
def test_pixels_outside_the_weight_get_what_the_guide_determines(sigma):
    guide, truth = linear_scene()
    weight = torch.ones(1, 1, 48, 48, dtype=torch.float64)
    weight[..., 16:32, 8:40] = 0
    clouded = torch.where(weight.bool(), truth, torch.full_like(truth, 0.6))
    fit = sar_regression(clouded, guide, weight, sigma, ridge=0.0)
    assert torch.allclose(fit, truth, atol=1e-9)
    wrong = sar_regression(clouded, guide.flip(-2, -1), weight, sigma, ridge=0.0)
    assert (wrong - truth)[..., 16:32, 8:40].abs().mean() > 0.01


def test_a_flat_guide_fits_the_weighted_mean_and_tiles_are_fitted_apart():
    guide, truth = linear_scene()
    weight = torch.rand(1, 1, 48, 48, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    flat = sar_regression(truth, torch.zeros_like(guide), weight)
    mean = (truth * weight).sum((-2, -1), keepdim=True) / weight.sum()
    assert torch.allclose(flat, mean.expand_as(truth))
    other_guide, other = linear_scene(seed=2)
    both = sar_regression(
        torch.cat([truth, other]), torch.cat([guide, other_guide]), weight.expand(2, -1, -1, -1)
    )
    assert torch.allclose(both[1:], sar_regression(other, other_guide, weight))
    assert torch.allclose(both[:1], sar_regression(truth, guide, weight))


def test_the_guide_is_despeckled_at_two_scales_and_standardised_and_a_flat_sar_stays_flat():
    sar = -12 + 3 * torch.randn(2, 2, 40, 40, generator=torch.Generator().manual_seed(0))
    guide = sar_guide(sar)
    assert torch.allclose(guide.mean((-2, -1)), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(guide.std((-2, -1)), torch.ones(2, 4), atol=1e-5)
    assert sar_guide(torch.full_like(sar, -12.0)).abs().max() < 1e-3


def test_the_robust_fit_finds_what_the_guide_does_not_explain_by_itself():
    guide, truth = linear_scene()
    cloud = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    cloud[..., 16:32, 8:40] = True
    clouded = torch.where(cloud, torch.full_like(truth, 0.6), truth)
    fit, weight = robust_sar_regression(clouded, guide, ridge=0.0)
    plain = sar_regression(clouded, guide, torch.ones_like(weight), ridge=0.0)
    inside = cloud.expand_as(truth)
    assert (fit - truth)[inside].abs().max() < 0.01 * (plain - truth)[inside].abs().mean()
    assert weight[cloud].max() < 0.01
    assert weight[~cloud].min() > 0.5
