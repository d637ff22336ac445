"""On real Sentinel-1/2 pairs the shipped metric and loss prefer the true optical image."""

import pytest
import torch

from axion_terratorch.functional import edge_cosine_agreement, sar_agreement, smooth
from axion_terratorch.losses import SARConsistencyLoss

from run_configs import SHARED_DATA

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="real BigEarthNet pairs not beside the checkout"
)


@pytest.fixture(scope="module")
def pairs():
    from real_pairs import load_pairs

    return load_pairs()


def degraded(optical: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(optical[0, 0].numel(), generator=gen)
    return {
        "blur 1.5": smooth(optical, 1.5),
        "blur 3": smooth(optical, 3.0),
        "shift 3 px": torch.roll(optical, (3, 3), dims=(-2, -1)),
        "shuffled": optical.flatten(2)[..., perm].view_as(optical),
    }


def test_sar_agreement_ranks_true_optical_above_degraded_copies(pairs):
    assert len(pairs) == 5
    for name, sar, optical in pairs:
        true = sar_agreement(optical, sar).item()
        for kind, image in degraded(optical).items():
            assert true > sar_agreement(image, sar).item(), (name, kind)


def test_seed_formula_rewards_blur_which_is_why_it_is_not_the_default(pairs):
    blur_wins = sum(
        edge_cosine_agreement(smooth(optical, 1.5), sar).item() > edge_cosine_agreement(optical, sar).item()
        for _, sar, optical in pairs
    )
    assert blur_wins >= 4


def test_default_sar_loss_does_not_favour_blur_or_speckle(pairs):
    loss = SARConsistencyLoss()
    for name, sar, optical in pairs:
        true = loss(optical, optical, sar).item()
        candidates = {"blur 1.5": smooth(optical, 1.5), "blur 3": smooth(optical, 3.0)}
        for seed in range(3):
            gen = torch.Generator().manual_seed(seed)
            noise = torch._standard_gamma(torch.full(optical.shape, 4.5), generator=gen) / 4.5
            candidates[f"speckle {seed}"] = optical * noise
        for kind, image in candidates.items():
            assert true < loss(image, optical, sar).item(), (name, kind)


def test_seed_edge_texture_weighting_does_favour_speckle(pairs):
    seed_loss = SARConsistencyLoss(structure_weight=0.0, edge_weight=1.0, texture_weight=0.5, sar_sigma=0.0)
    gen = torch.Generator().manual_seed(0)
    favoured = 0
    for _, sar, optical in pairs:
        noise = torch._standard_gamma(torch.full(optical.shape, 4.5), generator=gen) / 4.5
        favoured += seed_loss(optical * noise, optical, sar).item() < seed_loss(optical, optical, sar).item()
    assert favoured >= 4
