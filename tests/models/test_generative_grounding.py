"""TerraMindGenerativeGrounding on ``tiny`` with random weights, 32-64 px tiles, 1-2 DDIM steps."""

import copy

import lightning.pytorch as pl
import pytest
import torch
from einops import rearrange
from terratorch.models.backbones.terramind.model.generate import (
    init_empty_target_modality,
    init_full_input_modality,
)
from terratorch.models.backbones.terramind.model.modality_info import MODALITY_INFO
from terratorch.registry import FULL_MODEL_REGISTRY
from torch import nn

from axion_terratorch import SARGroundingTask
from axion_terratorch.checkpoints.loading import set_timesteps
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import LoraSettings, TerraMindGenerativeGrounding, count_parameters
from axion_terratorch.models.generative_grounding import (
    DECODER_CROSS_ATTENTION_TARGETS,
    _refuse_tokenizer_targets,
)
from axion_terratorch.models.hub import fill_stand_in_weights
from axion_terratorch.models.terramind_generation import TARGET_MODALITY, load_checkpoint

# Shape and plumbing tests build the model with random weights; tests/models/test_hub.py asserts its
# warning that such a tokenizer decoder cannot train.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:TerraMind's S2L2A tokenizer decoder has zero output weights:UserWarning"
    ),
]

SEED = 7


def make_image(size: int, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        SAR_KEY: torch.randn(batch, 2, size, size, generator=gen) * 4 - 14,
        OPTICAL_KEY: torch.rand(batch, 4, size, size, generator=gen) * 0.3,
    }


@pytest.fixture(scope="module")
def model() -> TerraMindGenerativeGrounding:
    torch.manual_seed(0)
    model = TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=2, noise_seed=SEED)
    assert not model.tokenizer.decoder.out[-1].weight.any()  # what the stand-in fixes
    assert fill_stand_in_weights(model.tokenizer.decoder) > 0
    return model


def hub_layout(model: TerraMindGenerativeGrounding) -> dict[str, torch.Tensor]:
    """The transformer's weights keyed as in terratorch's hub file (TerraMind names, no LoRA)."""
    state = model.core.sampler.model.state_dict()
    return {key.replace(".base_layer", ""): value for key, value in state.items() if "lora_" not in key}


@pytest.fixture(scope="module")
def plain(model, tmp_path_factory) -> TerraMindGenerativeGrounding:
    """No LoRA; transformer weights from a hub-layout file written from ``model``."""
    path = tmp_path_factory.mktemp("ckpt") / "TerraMind_v1_tiny.pt"
    torch.save(hub_layout(model), path)
    return TerraMindGenerativeGrounding(variant="tiny", pretrained=False, ckpt_path=str(path), lora=None)


@pytest.fixture(scope="module")
def trained(model) -> tuple[list[float], TerraMindGenerativeGrounding]:
    """Four Adam steps on one 32 px batch of a copy of ``model``; returns the losses and the copy."""
    clone = copy.deepcopy(model)
    clone.temperature = 0.1  # sharper token distributions: random logits are nearly uniform
    optimizer = torch.optim.Adam([p for p in clone.parameters() if p.requires_grad], lr=0.05)
    image = make_image(32, seed=1)
    target = image[OPTICAL_KEY] * 1.2
    losses = []
    for _ in range(4):  # LoRA B starts at 0: A receives gradients from the second step on
        optimizer.zero_grad()
        loss = nn.functional.l1_loss(clone(image), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, clone


@pytest.mark.parametrize("size", [32, 40])
def test_output_has_input_shape_for_any_tile_size(model, size):
    image = make_image(size)
    with torch.no_grad():
        out = model(image, timesteps=1)
    assert out.shape == image[OPTICAL_KEY].shape
    assert torch.isfinite(out).all()
    assert not torch.equal(out, image[OPTICAL_KEY])


def test_only_decoder_cross_attention_lora_is_trainable(model):
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert all(".cross_attn." in n and "lora_" in n for n in trainable), sorted(trainable)
    # tiny: 4 decoder blocks x (q, kv, proj) x (A, B); LoRA rank 8 on 192 -> 192 / 384 / 192 linears
    assert len(trainable) == 4 * 3 * 2
    assert count_parameters(model)[0] == 4 * 8 * ((192 + 192) + (192 + 384) + (192 + 192))
    assert not any("lora_" in n for n, _ in model.core.tokenizer.named_parameters())
    assert not any(p.requires_grad for p in model.tokenizer.parameters())


def test_gradients_reach_every_lora_weight_and_no_frozen_one(trained):
    _, clone = trained
    for name, param in clone.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
            assert param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name


def test_short_overfit_lowers_the_loss(trained):
    losses, _ = trained
    assert losses[-1] < 0.999 * losses[0], losses


def test_same_input_gives_same_output_whatever_the_batch(model, monkeypatch):
    image = make_image(32, batch=2, seed=3)
    first = {k: v[:1] for k, v in image.items()}
    with torch.no_grad():
        alone = model(first)
        again = model(first)
        batched = model(image)
        monkeypatch.setattr(model, "noise_seed", SEED + 1)
        reseeded = model(first)
    assert torch.equal(alone, again)
    torch.testing.assert_close(batched[:1], alone, atol=1e-5, rtol=0)  # batched convs round differently
    assert not torch.allclose(reseeded, alone)


def test_hard_relaxation_equals_terratorch_decode_of_argmax_tokens(model, monkeypatch):
    monkeypatch.setattr(model, "relaxation", "hard")
    image = make_image(64, seed=4)
    sar = model.standardizer.sar(image[SAR_KEY])
    optical = torch.zeros(1, 12, 64, 64)
    optical[:, model.slots] = model.standardizer.optical(image[OPTICAL_KEY])
    with torch.no_grad():
        logits = model.token_logits(sar, optical)
        decoded = model.decode(model.relaxed_codes(logits))
        tokens = rearrange(logits.argmax(-1), "b (h w) -> b h w", h=4)
        reference = model.tokenizer.decode_tokens(
            tokens, image_size=(64, 64), timesteps=2, generator=torch.Generator().manual_seed(SEED)
        )
        output = model(image)
    torch.testing.assert_close(decoded, reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(output, model.standardizer.optical_inverse(reference[:, model.slots]))


def test_one_pass_logits_equal_terratorch_roar_pass(model):
    sar, optical = torch.randn(2, 2, 32, 32), torch.randn(2, 12, 32, 32)
    core = model.core
    inputs = {}
    for key, value in ((SAR_KEY, sar), (OPTICAL_KEY, optical)):
        name = core.mod_name_mapping[key]
        masks = {
            "input_mask": torch.zeros(2, 4, dtype=torch.bool),
            "target_mask": torch.ones(2, 4, dtype=torch.bool),
        }
        inputs[name] = init_full_input_modality({"tensor": value, **masks}, MODALITY_INFO, name, "cpu")
    inputs[TARGET_MODALITY] = init_empty_target_modality(MODALITY_INFO, TARGET_MODALITY, 2, 4, "cpu")
    with torch.no_grad(), torch.random.fork_rng():  # terratorch shuffles the targets with torch.rand
        logits, positions = core.sampler.forward_enc_dec_roar_batched(inputs, TARGET_MODALITY, num_select=4)
        ours = model.token_logits(sar, optical)
    reordered = torch.empty_like(logits).scatter_(1, positions[..., None].expand_as(logits), logits)
    torch.testing.assert_close(ours, reordered, atol=1e-5, rtol=0)


def test_timesteps_change_at_inference(model):
    image = make_image(32, seed=5)
    with torch.no_grad():
        default = model(image)
        one = model(image, timesteps=1)
        model.timesteps = 1
        try:
            assert torch.equal(model(image), one)
        finally:
            model.timesteps = 2
    assert not torch.allclose(default, one)
    with pytest.raises(ValueError, match="timesteps"):
        model.timesteps = 0
    with pytest.raises(ValueError, match="timesteps"):
        model(image, timesteps=1001)


def test_registered_names_build_and_reload_the_state_dict(model):
    for variant in ("tiny", "small", "base", "large"):
        assert f"axion_terramind_v1_{variant}_generative_grounding" in FULL_MODEL_REGISTRY
    clone = FULL_MODEL_REGISTRY.build(
        "axion_terramind_v1_tiny_generative_grounding",
        pretrained=False,
        timesteps=2,
        noise_seed=SEED,
        lora={"rank": 8, "alpha": 16},
    )
    assert isinstance(clone, TerraMindGenerativeGrounding)
    image = make_image(32, seed=6)
    with torch.no_grad():
        assert not torch.allclose(clone(image), model(image))
        clone.load_state_dict(model.state_dict())
        torch.testing.assert_close(clone(image), model(image), atol=0, rtol=0)


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match="relaxation"):
        TerraMindGenerativeGrounding(variant="tiny", pretrained=False, relaxation="gumbel")
    with pytest.raises(ValueError, match="temperature"):
        TerraMindGenerativeGrounding(variant="tiny", pretrained=False, temperature=0.0)
    with pytest.raises(ValueError, match="unknown Sentinel-2"):
        TerraMindGenerativeGrounding(variant="tiny", pretrained=False, bands=("B02", "B10"))
    with pytest.raises(ValueError, match="timesteps"):
        TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=0)


def test_lora_target_matching_nothing_raises():
    with pytest.raises(ValueError, match=r"lora\.target_modules"):
        TerraMindGenerativeGrounding(
            variant="tiny", pretrained=False, lora=LoraSettings(target_modules=r".*q_proj")
        )


def test_lora_targets_in_the_tokenizer_are_refused(model):
    # The check the constructor runs before peft wraps anything (tested here on a built model).
    with pytest.raises(ValueError, match=r"lora\.target_modules .* tokenizer"):
        _refuse_tokenizer_targets(model.core, r".*attn\.qkv")
    _refuse_tokenizer_targets(model.core, DECODER_CROSS_ATTENTION_TARGETS)


def test_checkpointed_steps_give_the_same_output_and_gradients(trained, monkeypatch):
    _, clone = trained
    image = make_image(32, seed=8)
    params = [p for p in clone.parameters() if p.requires_grad]

    def output_and_grads() -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        out = clone(image)
        return out.detach(), torch.autograd.grad(out.square().mean(), params)

    plain_out, plain_grads = output_and_grads()
    monkeypatch.setattr(clone, "checkpoint_steps", True)
    ckpt_out, ckpt_grads = output_and_grads()
    torch.testing.assert_close(ckpt_out, plain_out, atol=0, rtol=0)
    for plain, ckpt in zip(plain_grads, ckpt_grads, strict=True):
        torch.testing.assert_close(ckpt, plain)


def test_ckpt_path_in_hub_layout_loads_the_transformer(model, plain):
    expected = hub_layout(model)
    loaded = plain.core.sampler.model.state_dict()
    assert expected.keys() == loaded.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    assert not plain.tokenizer.decoder.out[-1].weight.any()  # the file had no tokenizer weights


def test_without_lora_the_transformer_trains_and_the_tokenizer_does_not(plain):
    trainable = {n for n, p in plain.named_parameters() if p.requires_grad}
    transformer = {n for n, _ in plain.named_parameters() if n.startswith("generation.sampler.model.")}
    assert trainable == transformer
    assert not any("lora_" in n for n in trainable)


def test_ckpt_path_in_generation_layout_and_bad_files(plain, tmp_path):
    state = {k: v for k, v in plain.core.state_dict().items() if k.startswith("sampler.model.")}
    out_weight = f"tokenizer.{TARGET_MODALITY}.decoder.out.2.weight"
    state[out_weight] = torch.ones_like(plain.core.state_dict()[out_weight])
    torch.save(state, tmp_path / "generation.pt")
    try:
        assert load_checkpoint(plain.core, tmp_path / "generation.pt")  # tokenizer weights included
        assert plain.tokenizer.decoder.out[-1].weight.eq(1).all()
    finally:
        with torch.no_grad():
            plain.tokenizer.decoder.out[-1].weight.zero_()
    with pytest.raises(FileNotFoundError, match="ckpt_path"):
        load_checkpoint(plain.core, tmp_path / "missing.pt")
    torch.save({"backbone.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="ckpt_path"):
        load_checkpoint(plain.core, tmp_path / "other.pt")


def test_trains_and_reloads_as_the_model_of_the_task(model, tmp_path):
    """Same task, losses and metrics as the residual model: a Lightning fit step, then a reload."""
    clone = copy.deepcopy(model)
    clone.timesteps = 1
    task = SARGroundingTask(
        clone, loss=Stage3Loss(use_lpips=False), metrics=GroundingMetrics(lpips=False), lr=1e-2
    )
    datamodule = SyntheticGroundingDataModule(num_train=2, num_val=1, num_test=1, tile_size=32, batch_size=1)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=2,
        limit_val_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
    )
    before = {n: p.detach().clone() for n, p in task.named_parameters() if p.requires_grad}
    trainer.fit(task, datamodule)
    changed = [n for n, p in task.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed
    assert all("lora_" in n for n in changed)
    assert {"val/sar_agreement", "val/sar_agreement_gain", "val/psnr"} <= set(trainer.callback_metrics)
    path = tmp_path / "generative.ckpt"
    trainer.save_checkpoint(path)
    fresh = copy.deepcopy(model)
    fresh.timesteps = 1
    reloaded = SARGroundingTask.load_from_checkpoint(
        path, model=fresh, loss=Stage3Loss(use_lpips=False), metrics=GroundingMetrics(lpips=False)
    )
    image = make_image(32, seed=3)
    task.eval()
    reloaded.eval()
    with torch.no_grad():
        assert torch.equal(task(image), reloaded(image))


def test_half_precision_frozen_weights_stay_close_and_keep_adapters_in_float32():
    torch.manual_seed(0)
    full = TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=1, noise_seed=SEED)
    fill_stand_in_weights(full.tokenizer.decoder)
    half = TerraMindGenerativeGrounding(
        variant="tiny", pretrained=False, timesteps=1, noise_seed=SEED, frozen_dtype="bfloat16"
    )
    half.load_state_dict(full.state_dict())
    dtypes = {n: p.dtype for n, p in half.named_parameters()}
    assert all(dtypes[n] == torch.float32 for n in dtypes if "lora_" in n)
    assert any(d == torch.bfloat16 for n, d in dtypes.items() if "lora_" not in n)
    image = make_image(32, seed=2)
    with torch.no_grad():
        reference, approx = full(image), half(image)
    assert approx.dtype == torch.float32
    assert (approx - reference).abs().max() < 0.05
    with pytest.raises(ValueError, match="frozen_dtype"):
        TerraMindGenerativeGrounding(variant="tiny", pretrained=False, frozen_dtype="float8")


def test_inference_timesteps_override(model):
    """``axion-stage3 predict --timesteps N`` sets the step count of a generative checkpoint's model."""
    clone = copy.deepcopy(model)
    image = make_image(32, seed=4)
    set_timesteps(clone, 1)
    with torch.no_grad():
        one = clone(image)
    set_timesteps(clone, 2)
    assert clone.timesteps == 2
    with torch.no_grad():
        assert not torch.equal(clone(image), one)
    set_timesteps(clone, None)  # no override keeps the trained setting
    assert clone.timesteps == 2
    with pytest.raises(ValueError, match="no diffusion timesteps"):
        set_timesteps(nn.Linear(1, 1), 5)
