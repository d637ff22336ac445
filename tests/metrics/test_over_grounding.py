"""Metrics that see over-grounding: the target's agreement, the excess over it, copy-of-SAR, fidelity gains."""

from unittest import mock

import pytest
import torch
from scipy import ndimage

from axion_terratorch.constants import rgb_indices
from axion_terratorch.functional import copy_of_sar_ratio, sar_agreement
from axion_terratorch.metrics import GroundingMetrics, MaskedPSNR, PSNRGain, collection

BANDS = ("B02", "B03", "B04", "B08")


def _field(generator: torch.Generator, size: int, sigma: float) -> torch.Tensor:
    field = ndimage.gaussian_filter(torch.rand(2, size, size, generator=generator).numpy(), (0, sigma, sigma))
    field = torch.from_numpy(field).float()
    lo, hi = field.amin(dim=(1, 2), keepdim=True), field.amax(dim=(1, 2), keepdim=True)
    return (field - lo) / (hi - lo)


def scene(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two tiles: target, a blurred input of it and a speckled SAR image, (2, C, H, W).

    Target and SAR share one smooth structure; the target also has detail of its own that the SAR
    does not show, as real Sentinel-2 does (its agreement is well below 1).
    """
    g = torch.Generator().manual_seed(seed)
    shared, own = _field(g, size, 3.0), _field(g, size, 2.0)
    field = (0.5 * shared + 0.5 * own)[:, None]
    target = torch.cat([0.05 + 0.2 * field * s for s in (0.6, 0.8, 1.0, 1.6)], dim=1)
    optical = torch.from_numpy(ndimage.gaussian_filter(target.numpy(), (0, 0, 2, 2)))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        speckle = torch.distributions.Gamma(4.5, 4.5).sample((2, 2, size, size))
    sar = 10 * torch.log10((0.02 + 0.2 * shared[:, None]) * speckle)
    return target, optical, sar


def sar_copy(target: torch.Tensor, sar: torch.Tensor) -> torch.Tensor:
    """The target with its luminance replaced by the standardised SAR intensity (same mean and spread)."""
    luminance = 0.299 * target[:, 2:3] + 0.587 * target[:, 1:2] + 0.114 * target[:, 0:1]
    intensity = sar.mean(dim=1, keepdim=True)
    z = (intensity - intensity.mean(dim=(2, 3), keepdim=True)) / intensity.std(dim=(2, 3), keepdim=True)
    copy = target.clone()
    copy[:, list(rgb_indices(BANDS))] = luminance.mean(dim=(2, 3), keepdim=True) + luminance.std(
        dim=(2, 3), keepdim=True
    ) * z.expand(-1, 3, -1, -1)
    return copy


def computed(output, optical, sar, target, mask=None) -> dict[str, float]:
    metrics = GroundingMetrics(lpips=False)
    metrics.update(output, optical, sar, target=target, mask=mask)
    return {name: value.item() for name, value in metrics.compute().items()}


def test_target_agreement_and_zero_excess_for_the_target_itself():
    target, optical, sar = scene()
    values = computed(target, optical, sar, target)
    assert values["sar_agreement_target"] == pytest.approx(sar_agreement(target, sar).mean().item(), abs=1e-6)
    assert values["sar_agreement_target"] == pytest.approx(values["sar_agreement"], abs=1e-6)
    assert values["sar_agreement_excess"] == 0


def test_a_copy_of_the_sar_has_positive_excess_and_a_copy_ratio_below_one():
    target, optical, sar = scene()
    copy = sar_copy(target, sar)
    assert (sar_agreement(copy, sar) > sar_agreement(target, sar)).all()
    values = computed(copy, optical, sar, target)
    expected = (sar_agreement(copy, sar) - sar_agreement(target, sar)).clamp_min(0).mean()
    assert values["sar_agreement_excess"] > 0
    assert values["sar_agreement_excess"] == pytest.approx(expected.item(), abs=1e-6)
    assert values["copy_of_sar_ratio"] < 1
    assert computed(target, optical, sar, target)["copy_of_sar_ratio"] > 1


def test_excess_is_clipped_per_tile():
    """A tile below the target's agreement counts 0, not negative: it does not hide an imprinted tile."""
    target, optical, sar = scene()
    output = torch.cat([sar_copy(target, sar)[:1], target[1:].transpose(-2, -1)])
    after, truth = sar_agreement(output, sar), sar_agreement(target, sar)
    assert after[0] > truth[0]
    assert after[1] < truth[1]
    values = computed(output, optical, sar, target)
    assert values["sar_agreement_excess"] == pytest.approx((after[0] - truth[0]).item() / 2, abs=1e-6)


def test_copy_of_sar_ratio_is_the_function_moved_to_metrics():
    from axion_terratorch.evaluation import tile_scores

    assert tile_scores.copy_of_sar_ratio is copy_of_sar_ratio
    target, _, sar = scene()
    near = target + 0.005 * torch.randn_like(target)
    assert (copy_of_sar_ratio(near, sar, target, BANDS) > 1).all()
    assert (copy_of_sar_ratio(sar_copy(target, sar), sar, target, BANDS) < 1).all()


def test_fidelity_gains_are_zero_for_an_unchanged_input_and_positive_toward_the_target():
    target, optical, sar = scene()
    unchanged = computed(optical, optical, sar, target)
    assert unchanged["psnr_gain"] == 0
    assert unchanged["ssim_gain"] == pytest.approx(0.0, abs=1e-7)
    better = 0.5 * optical + 0.5 * target
    values = computed(better, optical, sar, target)
    assert values["psnr_gain"] > 0
    assert values["ssim_gain"] > 0


def test_psnr_gain_is_the_difference_of_accumulated_psnrs():
    target, optical, _ = scene()
    output = 0.7 * optical + 0.3 * target
    mask = torch.ones(2, 1, 48, 48, dtype=torch.bool)
    mask[..., :10] = False
    gain, psnr_out, psnr_in = PSNRGain(), MaskedPSNR(), MaskedPSNR()
    for tile in (slice(0, 1), slice(1, 2)):
        gain.update(output[tile], optical[tile], target[tile], mask[tile])
        psnr_out.update(output[tile], target[tile], mask[tile])
        psnr_in.update(optical[tile], target[tile], mask[tile])
    assert gain.compute().item() == pytest.approx((psnr_out.compute() - psnr_in.compute()).item(), abs=1e-4)


def test_sar_agreement_runs_once_per_image_and_batch():
    target, optical, sar = scene()
    metrics = GroundingMetrics(lpips=False)
    spy = mock.patch.object(collection, "sar_agreement", wraps=collection.sar_agreement)
    with spy as counted:
        metrics.update(optical * 1.01, optical, sar)
        assert counted.call_count == 2  # output and input
        metrics.update(optical * 1.01, optical, sar, target=target)
        assert counted.call_count == 2 + 3  # output, input and target
    values = metrics.compute()
    assert values["sar_agreement_gain"].item() == pytest.approx(
        (values["sar_agreement"] - values["sar_agreement_input"]).item(), abs=1e-6
    )


def test_over_grounding_metrics_need_a_target():
    target, optical, sar = scene()
    metrics = GroundingMetrics(lpips=False)
    metrics.update(optical, optical, sar)
    over_grounding = {
        "sar_agreement_target",
        "sar_agreement_excess",
        "copy_of_sar_ratio",
        "psnr_gain",
        "ssim_gain",
    }
    assert not over_grounding & set(metrics.compute())
    metrics.update(optical, optical, sar, target=target)
    assert over_grounding <= set(metrics.compute())
    metrics.reset()
    metrics.update(optical, optical, sar)
    assert not over_grounding & set(metrics.compute())
