"""benchmarks/sar_occlusion_fill.py: its SAR fill recovers what the SAR determines, and only that."""

import pytest
import torch

from run_configs import load_benchmark


@pytest.fixture(scope="module")
def benchmark():
    return load_benchmark("sar_occlusion_fill")


def scene(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A standardised SAR ``(1, 2, H, W)`` and an optical image that is a linear function of it."""
    generator = torch.Generator().manual_seed(seed)
    guide = torch.randn(1, 2, size, size, generator=generator, dtype=torch.float64)
    slopes = torch.tensor([[0.02, -0.01], [0.03, 0.0], [0.01, 0.02], [-0.02, 0.04]], dtype=torch.float64)
    optical = 0.1 + torch.einsum("cg,bghw->bchw", slopes, guide)
    return guide, optical


@pytest.mark.parametrize("sigma", [0.0, 8.0])
def test_a_reflectance_the_sar_determines_is_filled_back_and_the_wrong_sar_cannot(benchmark, sigma):
    guide, truth = scene()
    occluded = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    occluded[..., 16:32, 8:40] = True
    clear = (~occluded).double()
    clouded = torch.where(occluded, torch.full_like(truth, 0.6), truth)
    sar = benchmark.fill(clouded, guide, clear, occluded, sigma, slope=True)
    surroundings = benchmark.fill(clouded, guide, clear, occluded, sigma, slope=False)
    wrong = benchmark.fill(clouded, guide.flip(-2, -1), clear, occluded, sigma, slope=True)
    assert torch.equal(sar[~occluded.expand_as(sar)], truth[~occluded.expand_as(truth)])  # clear: untouched
    # Exact up to the ridge, which shrinks the slopes by RIDGE / (1 + RIDGE) of a unit-variance guide.
    inside = benchmark.psnr_inside(sar, truth, occluded)
    assert inside > benchmark.psnr_inside(surroundings, truth, occluded) + 20
    assert inside > benchmark.psnr_inside(wrong, truth, occluded) + 20
    assert benchmark.psnr_inside(clouded, truth, occluded) < 10


def test_without_the_mask_the_robust_fit_finds_the_cloud_and_fills_it(benchmark):
    guide, truth = scene()
    occluded = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    occluded[..., 16:32, 8:40] = True
    clouded = torch.where(occluded, torch.full_like(truth, 0.6), truth)
    inside = benchmark.psnr_inside(benchmark.found(clouded, guide, occluded), truth, occluded)
    surroundings = benchmark.found(clouded, torch.zeros_like(guide), occluded)
    assert inside > benchmark.psnr_inside(surroundings, truth, occluded) + 20
    assert (
        inside
        > benchmark.psnr_inside(benchmark.found(clouded, guide.flip(-2, -1), occluded), truth, occluded) + 20
    )
