"""The bounded SAR constraint, the SSIM fidelity term and how Stage3Loss selects between objectives."""

import pytest
import torch

from axion_terratorch.functional import orientation_agreement, sar_agreement
from axion_terratorch.losses import (
    SARAgreementExcess,
    SARAgreementHinge,
    SARConsistencyLoss,
    SSIMLoss,
    Stage3Loss,
)
from axion_terratorch.metrics import GroundingMetrics


def stripes(size: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """SAR (dB, with noise) and an optical image of the same oblique stripes, (1, 2|4, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    pattern = (torch.sin((xx + 0.5 * yy) / 3.0) > 0).float()
    sar = (-18 + 10 * pattern)[None, None].repeat(1, 2, 1, 1) + torch.randn(1, 2, size, size, generator=gen)
    optical = (0.05 + 0.15 * pattern)[None, None].repeat(1, 4, 1, 1)
    return sar, optical


def agreement(image: torch.Tensor, sar: torch.Tensor) -> torch.Tensor:
    return orientation_agreement(image, sar, weighting="sar")


@pytest.fixture
def scene():
    """SAR, a sharp optical image that follows it, and a weaker (noisy) target, 48 px."""
    sar, sharp = stripes()
    gen = torch.Generator().manual_seed(1)
    target = (sharp + 0.1 * torch.randn(sharp.shape, generator=gen)).clamp(0, 1)
    assert agreement(sharp, sar) > agreement(target, sar) + 0.05  # sharp agrees more than the target
    return sar, sharp, target


def test_hinge_with_target_is_zero_at_or_above_the_target_with_no_gradient(scene):
    sar, sharp, target = scene
    hinge = SARAgreementHinge()
    assert hinge(target, target, sar, target) == 0
    beyond = sharp.clone().requires_grad_()
    value = hinge(beyond, target, sar, target)
    assert value == 0  # never negative: agreeing more than the true image earns nothing
    (grad,) = torch.autograd.grad(value, beyond)
    assert torch.count_nonzero(grad) == 0


def test_hinge_with_target_is_the_shortfall_below_it(scene):
    sar, _, target = scene
    below = target.transpose(-2, -1).clone().requires_grad_()  # stripes across the SAR's
    value = SARAgreementHinge()(below, target, sar, target)
    expected = agreement(target, sar) - agreement(below, sar)
    assert value > 0
    assert value.item() == pytest.approx(expected.item(), abs=1e-5)
    (grad,) = torch.autograd.grad(value, below)
    assert grad.abs().sum() > 0


def test_hinge_without_target_is_bounded_by_the_headroom(scene):
    sar, sharp, target = scene
    hinge = SARAgreementHinge(headroom=0.05)
    # The input itself: exactly the headroom; any output agreeing at least as much scores less.
    assert hinge(target, target, sar).item() == pytest.approx(0.05, abs=1e-6)
    assert hinge(0.5 * target + 0.5 * sharp, target, sar) < 0.05
    beyond = sharp.clone().requires_grad_()  # more than 0.05 above the input
    value = hinge(beyond, target, sar)
    assert value == 0
    (grad,) = torch.autograd.grad(value, beyond)
    assert torch.count_nonzero(grad) == 0


def test_hinge_is_per_tile_then_averaged(scene):
    sar, sharp, target = scene
    below = target.transpose(-2, -1)
    batch = [torch.cat(pair) for pair in ((below, sharp), (target, target), (sar, sar))]
    value = SARAgreementHinge()(batch[0], batch[1], batch[2], batch[1])
    # Tile 2 is over the ceiling; it must not offset tile 1's shortfall.
    expected = (agreement(target, sar) - agreement(below, sar)) / 2
    assert value.item() == pytest.approx(expected.item(), abs=1e-5)


def test_excess_term_charges_agreement_past_the_target_only(scene):
    sar, sharp, target = scene
    loss = Stage3Loss(sar_consistency_weight=0.0, sar_excess_weight=2.0, use_lpips=False)
    beyond = sharp.clone().requires_grad_()
    terms = loss(beyond, target, sar, target)
    expected = sar_agreement(sharp, sar) - sar_agreement(target, sar)
    assert terms["sar_excess"].item() == pytest.approx(expected.item(), abs=1e-5)
    (grad,) = torch.autograd.grad(terms["loss"], beyond)
    step = beyond.detach() - 0.5 * grad / grad.abs().max()  # the gradient lowers the agreement
    assert sar_agreement(step, sar) < sar_agreement(sharp, sar)
    below = target.transpose(-2, -1)
    assert loss(below, target, sar, target)["sar_excess"] == 0  # no pull upwards: never an imprint
    without_target = loss(sharp, target, sar)["sar_excess"]
    assert without_target.item() == pytest.approx(max(expected.item() - 0.05, 0), abs=1e-5)
    assert "sar_excess" not in Stage3Loss(use_lpips=False)(sharp, target, sar, target)
    unbounded = Stage3Loss(sar_objective="unbounded", sar_excess_weight=2.0, use_lpips=False)
    assert unbounded(sharp, target, sar, target)["sar_excess"].item() == pytest.approx(
        expected.item(), abs=1e-5
    )


def test_excess_ceiling_target_or_input_lets_an_over_agreeing_input_keep_its_agreement(scene):
    """An input that agrees with the SAR more than the truth (``sharp`` here) is charged against the
    truth alone, not against the truth-or-input ceiling; agreement past both is charged either way."""
    sar, sharp, target = scene
    keeps = Stage3Loss(
        sar_consistency_weight=0.0,
        sar_excess_weight=2.0,
        sar_excess_ceiling="target_or_input",
        use_lpips=False,
    )
    against_target = Stage3Loss(sar_consistency_weight=0.0, sar_excess_weight=2.0, use_lpips=False)
    assert against_target(sharp, sharp, sar, target)["sar_excess"] > 0
    assert keeps(sharp, sharp, sar, target)["sar_excess"] == 0  # the unchanged input: nothing added
    softer = 0.5 * sharp + 0.5 * target  # between the two: closer to the truth's agreement
    assert keeps(softer, sharp, sar, target)["sar_excess"] == 0
    beyond = sharp.clone().requires_grad_()  # past both when the input is the target
    value = keeps(beyond, target, sar, target)["sar_excess"]
    assert value.item() == pytest.approx(
        (sar_agreement(sharp, sar) - sar_agreement(target, sar)).item(), abs=1e-5
    )
    (grad,) = torch.autograd.grad(value, beyond)
    assert grad.abs().sum() > 0
    without_target = keeps(sharp, target, sar)["sar_excess"]  # no target: the input's plus the headroom
    assert without_target == against_target(sharp, target, sar)["sar_excess"]
    assert "ceiling='target_or_input'" in repr(keeps)
    with pytest.raises(
        ValueError, match=r"sar_excess_ceiling must be one of \['target', 'target_or_input'\]"
    ):
        Stage3Loss(sar_excess_ceiling="input", use_lpips=False)


def test_excess_is_the_logged_metric_not_the_hinge_agreement(scene):
    """Sharp edges over most of the tile and noise elsewhere: no more agreement than the truth under
    the hinge's SAR weighting, more under the metric's. The excess term sees what the metric logs."""
    sar, sharp, target = scene
    output = sharp.clone()
    noise = torch.randn(output[..., :20].shape, generator=torch.Generator().manual_seed(3))
    output[..., :20] = (output[..., :20] + 0.2 * noise).clamp(0, 1)
    assert agreement(output, sar) <= agreement(target, sar)
    assert sar_agreement(output, sar) > sar_agreement(target, sar)
    metrics = GroundingMetrics(lpips=False)
    metrics.update(output, target, sar, target)
    excess = SARAgreementExcess()(output, target, sar, target)
    assert excess.item() == pytest.approx(metrics.compute()["sar_agreement_excess"].item(), abs=1e-5)
    assert excess > 0


def test_stage3_default_sar_term_is_the_hinge(scene):
    sar, sharp, target = scene
    loss = Stage3Loss(use_lpips=False)
    with_target = loss(sharp, target, sar, target=target)
    assert with_target["sar_hinge"] == 0
    assert "sar_consistency" not in with_target  # the hinge is logged under its own name
    without = loss(target, target, sar)
    assert without["sar_hinge"].item() == pytest.approx(0.05, abs=1e-6)


def test_unbounded_objective_is_todays_sar_consistency_loss(scene):
    sar, sharp, target = scene
    output = 0.7 * sharp + 0.3 * target
    for weights in ((1.0, 0.0, 0.0), (0.5, 1.0, 0.5)):
        loss = Stage3Loss(
            use_lpips=False,
            sar_objective="unbounded",
            structure_weight=weights[0],
            edge_weight=weights[1],
            texture_weight=weights[2],
        )
        terms = loss(output, target, sar, target=target)
        assert torch.equal(terms["sar_consistency"], SARConsistencyLoss(*weights)(output, target, sar))


def test_ssim_term_is_zero_for_the_target_and_positive_otherwise(scene):
    sar, sharp, target = scene
    assert SSIMLoss()(target, target, sar, target).item() == pytest.approx(0.0, abs=1e-6)
    mask = torch.ones(1, 1, 48, 48, dtype=torch.bool)
    mask[..., :12] = False
    assert SSIMLoss()(target, target, sar, target, mask).item() == pytest.approx(0.0, abs=1e-6)
    terms = Stage3Loss(use_lpips=False)(sharp, target, sar, target=target)
    assert terms["ssim"] > 0
    assert Stage3Loss(use_lpips=False)(target, target, sar, target=target)["ssim"].item() == pytest.approx(
        0.0, abs=1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sar_objective": "copy"}, "sar_objective"),
        ({"sar_headroom": -0.1}, "sar_headroom"),
        ({"sar_headroom": float("nan")}, "sar_headroom"),
        ({"ssim_weight": -1.0}, "ssim_weight"),
        ({"edge_weight": 1.0}, "edge_weight"),
        ({"structure_weight": 0.0}, "structure_weight"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Stage3Loss(use_lpips=False, **kwargs)
