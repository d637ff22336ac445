import pytest
import torch

from axion_terratorch.functional import smooth
from axion_terratorch.losses import (
    CycleLoss,
    IdentityLoss,
    LPIPSLoss,
    SARConsistencyLoss,
    SpectralLoss,
    SSIMLoss,
    Stage3Loss,
)
from axion_terratorch.lpips import LPIPSDistance


def scene(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A SAR image of oriented stripes and an optical image of the same stripes, (1, 2|4, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    stripes = (torch.sin((xx + 0.5 * yy) / 3.0) > 0).float()
    sar = (-18 + 10 * stripes)[None, None].repeat(1, 2, 1, 1) + torch.randn(1, 2, size, size, generator=gen)
    optical = (0.05 + 0.15 * stripes)[None, None].repeat(1, 4, 1, 1)
    return sar, optical


def lpips_distance() -> LPIPSDistance:
    with pytest.warns(UserWarning, match="not meaningful"):
        return LPIPSDistance(pretrained_backbone=False)


def test_structure_loss_prefers_matching_structure():
    sar, optical = scene()
    loss = SARConsistencyLoss()
    rotated = optical.transpose(-2, -1)
    assert loss(optical, optical, sar) < loss(rotated, optical, sar)
    assert loss(optical, optical, sar) < loss(smooth(optical, 3.0), optical, sar)


def test_every_term_passes_gradients_to_the_output():
    sar, optical = scene()
    output = (optical * 1.1 + 0.01).requires_grad_(True)
    with pytest.warns(UserWarning, match="not meaningful"):
        lpips = LPIPSLoss(pretrained_backbone=False)
    terms = {  # every term takes (output, optical, sar, target, mask): the LossTerm protocol
        "structure": SARConsistencyLoss(),
        "edge": SARConsistencyLoss(0, 1, 0),
        "texture": SARConsistencyLoss(0, 0, 1),
        "cycle": CycleLoss(),
        "identity": IdentityLoss(),
        "spectral": SpectralLoss(),
        "ssim": SSIMLoss(),
        "lpips": lpips,
    }
    target = smooth(optical, 1.0)
    for name, term in terms.items():
        value = term(output, optical, sar, target, None)
        (grad,) = torch.autograd.grad(value, output)
        assert grad.abs().sum() > 0, name


def test_total_is_the_weighted_sum_of_terms():
    sar, optical = scene()
    target = optical * 0.9
    output = optical + 0.02
    with pytest.warns(UserWarning, match="randomly initialised backbone"):
        loss = Stage3Loss(
            sar_consistency_weight=1.5,
            cycle_weight=0.7,
            identity_weight=0.2,
            lpips_weight=0.3,
            spectral_weight=0.4,
            ssim_weight=0.6,
            lpips_pretrained_backbone=False,
        )
    out = loss(output, optical, sar, target=target)
    expected = (
        1.5 * out["sar_hinge"]
        + 0.7 * out["cycle"]
        + 0.2 * out["identity"]
        + 0.3 * out["lpips"]
        + 0.4 * out["spectral"]
        + 0.6 * out["ssim"]
    )
    assert torch.allclose(out["loss"], expected)
    assert torch.allclose(out["cycle_identity"], 0.7 * out["cycle"] + 0.2 * out["identity"])
    assert "total" not in out
    assert out["spectral"] > 0
    assert out["ssim"] > 0
    assert out["lpips"] > 0


def test_fidelity_terms_are_zero_without_target_and_lpips_off_builds_no_network():
    sar, optical = scene()
    loss = Stage3Loss(use_lpips=False)
    assert "lpips" not in loss.terms
    out = loss(optical + 0.01, optical, sar)
    assert out["spectral"] == 0
    assert out["ssim"] == 0
    assert "lpips" not in out  # no constant-0 series when LPIPS is off


def test_negative_weight_is_refused_with_its_name():
    with pytest.raises(ValueError, match="cycle_weight"):
        Stage3Loss(cycle_weight=-0.1, use_lpips=False)
    with pytest.raises(ValueError, match="texture_weight"):
        SARConsistencyLoss(texture_weight=-1)


def test_masked_pixels_do_not_count():
    sar, optical = scene()
    mask = torch.ones(1, 1, *optical.shape[-2:], dtype=torch.bool)
    mask[..., :16] = False
    output = optical + 0.02
    changed = output.clone()
    changed[..., :16] = 5.0
    for loss in (CycleLoss(), SpectralLoss(), IdentityLoss()):
        assert torch.allclose(
            loss(output, optical, sar, optical, mask), loss(changed, optical, sar, optical, mask)
        )
    lpips = lpips_distance()
    assert not torch.allclose(lpips(output, optical), lpips(changed, optical))


def test_identity_loss_protects_dark_sar_areas():
    sar, optical = scene()
    dark = sar.mean(1, keepdim=True) < -13
    change_dark = optical + 0.05 * dark
    change_bright = optical + 0.05 * ~dark
    loss = IdentityLoss()
    assert loss(change_dark, optical, sar) > loss(change_bright, optical, sar)


def test_lpips_uses_rgb_in_band_order():
    _, optical = scene()
    lpips = lpips_distance()
    assert lpips.rgb == [2, 1, 0]  # B04, B03, B02 of (B02, B03, B04, B08)
    nir_changed = optical.clone()
    nir_changed[:, 3] += 0.1
    assert lpips(nir_changed, optical) == 0
    with pytest.raises(ValueError, match="B04"):
        LPIPSDistance(bands=("B02", "B03", "B08"), pretrained_backbone=False)


def test_lpips_offline_error_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    try:
        LPIPSDistance(pretrained_backbone=True)
    except RuntimeError as err:
        message = str(err)
    else:
        pytest.skip("torchvision weights were available (network or cache): nothing to test offline")
    assert "use_lpips: false" in message
    assert "alexnet" in message


@pytest.mark.parametrize(
    "kwargs", [{}, {"sar_objective": "unbounded", "edge_weight": 1.0, "texture_weight": 0.5}]
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_loss_and_gradients_stay_finite_under_autocast(dtype, kwargs):
    """``precision: 16-mixed`` / ``bf16-mixed``: the SAR and SSIM terms run in float32 inside autocast."""
    sar, optical = scene()
    output = (optical + 0.01).requires_grad_()
    loss = Stage3Loss(use_lpips=False, **kwargs)
    with torch.autocast("cpu", dtype=dtype):
        terms = loss(output * 1.0, optical, sar, target=optical * 0.9)
    assert all(torch.isfinite(value) for value in terms.values())
    terms["loss"].backward()
    assert torch.isfinite(output.grad).all()
    assert output.grad.abs().sum() > 0


def test_sar_term_at_weight_zero_is_logged_without_a_graph():
    sar, optical = scene()
    output = (optical + 0.01 * torch.randn_like(optical)).requires_grad_()
    target = smooth(optical, 1.0)
    weighted = Stage3Loss(use_lpips=False)(output, optical, sar, target=target)
    off = Stage3Loss(use_lpips=False, sar_consistency_weight=0.0)(output, optical, sar, target=target)
    assert weighted["sar_hinge"] > 0
    assert weighted["sar_hinge"].requires_grad
    assert not off["sar_hinge"].requires_grad
    assert torch.equal(off["sar_hinge"], weighted["sar_hinge"].detach())
    assert torch.allclose(off["loss"], weighted["loss"] - weighted["sar_hinge"])
