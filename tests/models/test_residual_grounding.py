import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from axion_terratorch.checkpoints import load_model
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding, count_parameters
from axion_terratorch.models.terramind_lora import TerraMindLoRABackbone
from tests.models.test_baselines import fields_scene

#: A model config as checkpoints saved before the ``decoder`` argument hold it.
FCN_CONFIG = {
    "class_path": "axion_terratorch.models.TerraMindResidualGrounding",
    "init_args": {
        "variant": "tiny",
        "pretrained": False,
        "decoder": "fcn",
        "decoder_channels": 8,
        "ckpt_path": None,
    },
}


def make_image(
    size: int, bands: int = 4, batch: int = 2, width: int | None = None
) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(size)
    shape = (size, size if width is None else width)
    return {
        SAR_KEY: torch.randn(batch, 2, *shape, generator=gen) * 4 - 14,
        OPTICAL_KEY: torch.rand(batch, bands, *shape, generator=gen) * 0.3,
    }


def perturb(model: TerraMindResidualGrounding, seed: int = 0) -> None:
    """Small random values in the zero-initialised head layer and LoRA B, so every gradient flows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("head.2.") or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.05)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius 3 sigma, replicate padding)."""
    radius = round(3 * sigma)
    taps = torch.exp(-(torch.arange(-radius, radius + 1.0) ** 2) / (2 * sigma**2))
    kernel = (taps / taps.sum()).repeat(image.shape[1], 1, 1, 1)
    rows = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), kernel, groups=image.shape[1])
    cols = F.pad(rows, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(cols, kernel.transpose(2, 3), groups=image.shape[1])


def rectangles(size: int, seed: int) -> torch.Tensor:
    """``(1, 4, size, size)`` reflectance: overlapping flat rectangles, sharp edges."""
    gen = torch.Generator().manual_seed(seed)
    image = torch.full((1, 4, size, size), 0.1)
    for _ in range(12):
        top, left = torch.randint(0, size - 8, (2,), generator=gen).tolist()
        height, width = torch.randint(6, size // 2, (2,), generator=gen).tolist()
        image[..., top : top + height, left : left + width] = (
            torch.rand(1, 4, 1, 1, generator=gen) * 0.3 + 0.02
        )
    return image


@pytest.fixture(scope="module")
def model() -> TerraMindResidualGrounding:
    torch.manual_seed(0)
    return TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=16)


@pytest.mark.parametrize("size", [32, 50, 64, 72])
def test_untrained_model_returns_input_for_any_tile_size(model, size):
    image = make_image(size)
    out = model(image)
    assert out.shape == image[OPTICAL_KEY].shape
    assert torch.equal(out, image[OPTICAL_KEY])


@pytest.mark.parametrize("decoder", ["unet", "fcn"])
def test_odd_non_square_tiles_keep_their_shape(decoder):
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder=decoder, decoder_channels=8)
    image = make_image(40, width=56)
    assert torch.equal(model(image), image[OPTICAL_KEY])
    perturb(model)
    out = model(image)
    assert out.shape == (2, 4, 40, 56)
    assert not torch.equal(out, image[OPTICAL_KEY])


def test_unet_is_the_default_decoder(model):
    assert model.decoder_type == "unet"
    assert any(name.startswith("decoder.unet.blocks.") for name in model.state_dict())
    with pytest.raises(ValueError, match="decoder must be one of"):
        TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder="unetr")


def test_one_backward_reaches_decoder_head_and_lora():
    torch.manual_seed(2)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=16)
    perturb(model)
    image = make_image(32, batch=1)
    F.l1_loss(model(image), image[OPTICAL_KEY] * 1.1).backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in trainable)
    assert any(n.startswith("decoder.encoder.") for n in trainable)
    for name, param in trainable.items():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_fcn_decoder_keeps_the_old_state_dict():
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder="fcn", decoder_channels=16)
    keys = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith(("decoder.", "head."))}
    expected = {}
    for i in range(4):
        expected |= {
            f"decoder.convs.{i}.0.weight": (192 if i == 0 else 16, 16, 2, 2),
            f"decoder.convs.{i}.0.bias": (16,),
            f"decoder.convs.{i}.1.weight": (16, 16, 3, 3),
            f"decoder.convs.{i}.1.bias": (16,),
            f"decoder.convs.{i}.2.ln.weight": (16,),
            f"decoder.convs.{i}.2.ln.bias": (16,),
        }
    expected |= {
        "head.0.weight": (16, 16 + 4 + 2, 3, 3),
        "head.0.bias": (16,),
        "head.2.weight": (4, 16, 1, 1),
        "head.2.bias": (4,),
    }
    assert keys == expected


def save_checkpoint(model: TerraMindResidualGrounding, config: dict, path: Path) -> Path:
    """A checkpoint as ``terratorch fit`` writes it (task state dict, model config)."""
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"model": config}}, path)
    return path


def test_fcn_checkpoint_loads_and_a_decoder_mismatch_names_the_fix(tmp_path):
    torch.manual_seed(0)
    fcn = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder="fcn", decoder_channels=8)
    perturb(fcn)
    image = make_image(32)
    rebuilt = load_model(save_checkpoint(fcn, FCN_CONFIG, tmp_path / "fcn.ckpt"))
    assert torch.equal(rebuilt(image), fcn.eval()(image))
    config = copy.deepcopy(FCN_CONFIG)
    config["init_args"]["decoder"] = "unet"
    with pytest.raises(ValueError, match=r"'fcn' decoder .* decoder='unet': set `decoder: fcn`"):
        load_model(save_checkpoint(fcn, config, tmp_path / "unet.ckpt"))
    with pytest.raises(ValueError, match="set `decoder: unet`"):
        rebuilt.load_state_dict(TerraMindResidualGrounding(variant="tiny", pretrained=False).state_dict())


@pytest.mark.slow
def test_unet_learns_to_undo_a_blur():
    """60 Adam steps on one blurred tile take the U-Net's L1 to the sharp tile below the identity's.

    (Overfitting one tile does not rank the decoders: the FCN decoder memorises it faster through its
    per-position transposed convolutions, but learns nothing that carries over to other tiles.)
    """
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False)
    sharp = rectangles(64, seed=0)
    image = {SAR_KEY: torch.randn(1, 2, 64, 64) - 14, OPTICAL_KEY: gaussian_blur(sharp, 1.5)}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(60):
        optimizer.zero_grad()
        F.l1_loss(model(image), sharp).backward()
        optimizer.step()
    with torch.no_grad():
        loss = F.l1_loss(model(image), sharp)
    assert loss < 0.95 * F.l1_loss(image[OPTICAL_KEY], sharp)  # 0.68-0.89 over seeds 0-3


def test_only_lora_and_decoder_are_trainable(model):
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for name in trainable:
        assert "lora_" in name or name.startswith(("decoder.", "head.")), name
    lora_params = [n for n in trainable if "lora_" in n]
    # rank 8 adapters on qkv and proj of each of the 12 tiny encoder blocks (A and B each)
    assert len(lora_params) == 12 * 2 * 2
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(".encoder.0.attn.qkv.base_layer" in n for n in frozen)


def test_trainable_share_matches_parameter_counts(model):
    trainable, total = count_parameters(model)
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == expected
    assert 0 < trainable < 0.2 * total


def test_gradients_reach_lora_weights_and_never_frozen_ones():
    torch.manual_seed(1)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=8)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    image = make_image(32, batch=1)
    target = image[OPTICAL_KEY] * 1.1
    for _ in range(3):  # the zero-initialised head and LoRA B open the path over the first steps
        opt.zero_grad()
        torch.nn.functional.l1_loss(model(image), target).backward()
        opt.step()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
            assert param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name
    assert not torch.equal(model(image), image[OPTICAL_KEY])


def test_standardisation_buffers_follow_dtype(model):
    clone = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=8).double()
    assert clone.standardizer.optical_mean.dtype == torch.float64
    image = {k: v.double() for k, v in make_image(32).items()}
    assert clone(image).dtype == torch.float64
    names = dict(model.named_buffers())
    assert "standardizer.optical_std" in names
    assert torch.allclose(names["standardizer.optical_mean"].flatten()[0], torch.tensor(1503.317 / 1e4))


def test_band_subset_takes_pretrained_slots():
    torch.manual_seed(3)
    full = TerraMindLoRABackbone(
        "tiny",
        bands=("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"),
        pretrained=False,
        lora=None,
    )
    torch.manual_seed(3)
    subset = TerraMindLoRABackbone("tiny", bands=("B02", "B03", "B04", "B08"), pretrained=False, lora=None)
    key = "encoder_embeddings.untok_sen2l2a@224.proj.weight"
    w_full = full.encoder.state_dict()[key].view(192, 256, 12)
    w_sub = subset.encoder.state_dict()[key].view(192, 256, 4)
    assert torch.equal(w_sub, w_full[..., [1, 2, 3, 7]])


def test_bad_inputs_name_the_problem(model):
    image = make_image(32)
    with pytest.raises(KeyError, match="S1GRD"):
        model({OPTICAL_KEY: image[OPTICAL_KEY]})
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        model({SAR_KEY: image[SAR_KEY], OPTICAL_KEY: image[OPTICAL_KEY][:, :3]})
    with pytest.raises(ValueError, match="unknown Sentinel-2"):
        TerraMindResidualGrounding(variant="tiny", pretrained=False, bands=("B02", "B10"))


def test_lora_settings_validate_and_target_must_match():
    with pytest.raises(ValueError, match=r"lora\.rank"):
        LoraSettings(rank=0)
    with pytest.raises(ValueError, match=r"lora\.target_modules"):
        TerraMindResidualGrounding(
            variant="tiny", pretrained=False, lora=LoraSettings(target_modules=r".*q_proj")
        )


def test_unfrozen_base_trains_everything():
    model = TerraMindResidualGrounding(
        variant="tiny", pretrained=False, lora=LoraSettings(freeze_base_model=False), decoder_channels=8
    )
    trainable, total = count_parameters(model)
    assert trainable == total


def test_tokens_only_sar_keeps_the_full_resolution_path_optical():
    """With ``sar_resolution="tokens"`` the SAR reaches the output only through TerraMind's tokens:
    with the token map held fixed (a forward hook), another SAR leaves the output unchanged; with
    ``"full"`` and ``"branch"`` (its own full-resolution encoder) it does not."""
    image = make_image(32)
    other = dict(image, **{SAR_KEY: image[SAR_KEY].flip(-1)})
    changed = {}
    for resolution in ("tokens", "full", "branch"):
        torch.manual_seed(0)
        model = TerraMindResidualGrounding(
            variant="tiny", pretrained=False, sar_resolution=resolution, decoder_channels=8
        )
        perturb(model)
        model.eval()
        with torch.no_grad():
            tokens = model.backbone(
                {OPTICAL_KEY: torch.zeros(2, 4, 32, 32), SAR_KEY: torch.zeros(2, 2, 32, 32)}
            )
            handle = model.backbone.register_forward_hook(lambda *_, fixed=tokens: fixed)
            changed[resolution] = not torch.equal(model(image), model(other))
            handle.remove()
    assert changed == {"tokens": False, "full": True, "branch": True}
    with pytest.raises(ValueError, match="sar_resolution"):
        TerraMindResidualGrounding(variant="tiny", pretrained=False, sar_resolution="pixels")


def test_sar_blind_network_depends_on_the_sar_only_through_its_fill():
    """With ``sar_resolution="none"`` TerraMind encodes the optical alone and no layer sees the SAR:
    another SAR changes the output only through ``sar_fill``, after the same network output."""
    image = make_image(32)
    other = dict(image, **{SAR_KEY: image[SAR_KEY].flip(-1)})
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(
        variant="tiny", pretrained=False, sar_resolution="none", decoder_channels=8, sar_fill=True
    )
    perturb(model)
    model.eval()
    assert model.backbone.modalities == (OPTICAL_KEY,)
    with torch.no_grad():
        filled = model(image), model(other)
        fill, model.sar_fill = model.sar_fill, None
        assert torch.equal(model(image), model(other))
        network = model(image)
    for output, sar in zip(filled, (image[SAR_KEY], other[SAR_KEY]), strict=True):
        assert torch.equal(output, fill.blend(image[OPTICAL_KEY], sar, network))


def test_sar_registration_moves_the_input_where_the_sar_puts_its_structure():
    """Untrained (head at zero), the model with ``sar_registration`` returns the input registered to
    the SAR: a shifted estimate comes back towards the truth, and a SAR without structure leaves it."""
    generator = torch.Generator().manual_seed(0)
    pattern = F.interpolate(torch.rand(1, 1, 8, 8, generator=generator), size=64)
    truth = (0.05 + 0.25 * pattern).expand(1, 4, 64, 64).clone()
    sar = -18 + 10 * pattern.expand(1, 2, 64, 64) + torch.randn(1, 2, 64, 64, generator=generator)
    shifted = truth.roll((2, -1), dims=(-2, -1))
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, sar_registration=True).eval()
    with torch.no_grad():
        output = model({SAR_KEY: sar, OPTICAL_KEY: shifted})
        flat = model({SAR_KEY: torch.full_like(sar, -12.0), OPTICAL_KEY: shifted})
    inner = (..., slice(8, -8), slice(8, -8))
    assert (output - truth)[inner].abs().mean() < 0.3 * (shifted - truth)[inner].abs().mean()
    assert torch.allclose(flat, shifted, atol=1e-5)


def test_sar_fill_puts_back_what_the_sar_shows_under_a_cloud_and_leaves_the_rest():
    """``sar_fill``: the cloud the scene's SAR contradicts takes the tile's SAR-to-optical fit after
    the model (close to the truth, unlike with the SAR turned 180 degrees); the clear pixels keep the
    model's output. In training mode the network's output is left whole."""
    sar, truth = fields_scene()
    clouded = truth.clone()
    clouded[..., 20:44, 16:48] = 0.6
    model = TerraMindResidualGrounding(
        variant="tiny", pretrained=False, sar_fill=True, decoder_channels=8
    ).eval()
    with torch.no_grad():
        output = model({SAR_KEY: sar, OPTICAL_KEY: clouded})
        wrong = model({SAR_KEY: sar.flip(-2, -1), OPTICAL_KEY: clouded})
    core = (..., slice(24, 40), slice(20, 44))  # the cloud without its edge, which the smoothing spares
    assert (output - truth)[core].abs().mean() < 0.05 * (clouded - truth)[core].abs().mean()
    assert (output - truth)[core].abs().mean() < 0.5 * (wrong - truth)[core].abs().mean()
    clear = (..., slice(0, 12), slice(None))
    assert torch.equal(output[clear], clouded[clear])  # untrained head: the clear input, untouched
    model.train()
    with torch.no_grad():
        assert torch.equal(model({SAR_KEY: sar, OPTICAL_KEY: clouded}), clouded)  # trains without it
