import pytest
import torch

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding, count_parameters
from axion_terratorch.models.terramind_lora import TerraMindLoRABackbone


def make_image(size: int, bands: int = 4, batch: int = 2) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(size)
    return {
        SAR_KEY: torch.randn(batch, 2, size, size, generator=gen) * 4 - 14,
        OPTICAL_KEY: torch.rand(batch, bands, size, size, generator=gen) * 0.3,
    }


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
