"""``gradient_steps``: backpropagation through the last denoising steps only (``tiny``, 32 px, 2 steps)."""

import copy

import pytest
import torch
import yaml
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.checkpoints import load_model
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import TerraMindGenerativeGrounding
from axion_terratorch.profiling import SavedTensorMeter

pytestmark = pytest.mark.slow


def make_image(size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {
        SAR_KEY: torch.randn(1, 2, size, size, generator=gen) * 4 - 14,
        OPTICAL_KEY: torch.rand(1, 4, size, size, generator=gen) * 0.3,
    }


@pytest.fixture(scope="module")
def model() -> TerraMindGenerativeGrounding:
    """Two DDIM steps, stand-in decoder weights, LoRA ``B`` away from 0 (as after some training)."""
    torch.manual_seed(0)
    model = TerraMindGenerativeGrounding(
        variant="tiny", pretrained=False, timesteps=2, noise_seed=3, stand_in_decoder=True
    )
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02, generator=torch.Generator().manual_seed(1))
    return model


def run(model: TerraMindGenerativeGrounding, **settings) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """Output, gradients of the trainable parameters and saved activation bytes under ``settings``."""
    clone = copy.deepcopy(model)
    for key, value in settings.items():
        setattr(clone, key, value)
    params = {name: p for name, p in clone.named_parameters() if p.requires_grad}
    with SavedTensorMeter(exclude=[*clone.parameters(), *clone.buffers()]) as saved:
        out = clone(make_image())
    grads = torch.autograd.grad(out.square().mean(), list(params.values()))
    return out.detach(), dict(zip(params, grads, strict=True)), saved.bytes


def test_truncation_keeps_the_output_and_every_lora_gradient_and_saves_less(model):
    full_out, full_grads, full_saved = run(model)
    last_out, last_grads, last_saved = run(model, gradient_steps=1)
    torch.testing.assert_close(last_out, full_out, atol=0, rtol=0)
    nonzero = {name for name, grad in full_grads.items() if grad.ne(0).any()}
    assert nonzero == set(full_grads)  # every LoRA tensor gets a gradient with all steps ...
    assert {name for name, grad in last_grads.items() if grad.ne(0).any()} == nonzero  # ... and at K=1
    # The gradient is truncated (the codes' path through the first step is gone), not recomputed.
    assert any(not torch.allclose(last_grads[n], full_grads[n], rtol=1e-3, atol=0) for n in nonzero)
    # The untracked step records nothing: about one step's activations fewer.
    assert last_saved < 0.75 * full_saved
    _, every_grads, _ = run(model, gradient_steps=2)  # K = timesteps is every step
    for name, grad in every_grads.items():
        torch.testing.assert_close(grad, full_grads[name], atol=0, rtol=0)


def test_truncation_composes_with_checkpointed_steps(model):
    plain_out, plain_grads, _ = run(model, gradient_steps=1)
    ckpt_out, ckpt_grads, ckpt_saved = run(model, gradient_steps=1, checkpoint_steps=True)
    torch.testing.assert_close(ckpt_out, plain_out, atol=0, rtol=0)
    for name, grad in ckpt_grads.items():
        torch.testing.assert_close(grad, plain_grads[name])
    _, _, full_ckpt_saved = run(model, checkpoint_steps=True)
    assert ckpt_saved <= full_ckpt_saved


def test_bad_gradient_steps_name_the_key_and_fewer_inference_steps_are_fine(model):
    for bad in (0, 3, 1.5):
        with pytest.raises(ValueError, match=r"gradient_steps must be in \[1, timesteps=2\]"):
            TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=2, gradient_steps=bad)
    clone = copy.deepcopy(model)
    with pytest.raises(ValueError, match="gradient_steps"):
        clone.gradient_steps = 3
    clone.gradient_steps = 2
    out = clone(make_image(), timesteps=1)  # an inference override below gradient_steps: all recorded
    out.mean().backward()
    assert all(p.grad is not None for p in clone.parameters() if p.requires_grad)


def test_terratorch_fit_passes_gradient_steps_from_the_yaml(demo_config):
    settings = yaml.safe_load(demo_config.read_text())
    settings["model"]["init_args"]["model"] = {
        "class_path": "axion_terratorch.models.TerraMindGenerativeGrounding",
        "init_args": {
            "variant": "tiny",
            "pretrained": False,
            "stand_in_decoder": True,
            "bands": ["B02", "B03", "B04", "B08"],
            "timesteps": 2,
            "gradient_steps": 1,
            "checkpoint_steps": True,
        },
    }
    demo_config.write_text(yaml.safe_dump(settings))
    fast = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
    cli = build_lightning_cli(["fit", "-c", str(demo_config), *fast])
    assert cli.trainer.global_step == 2
    assert cli.model.model.gradient_steps == 1
    lora_b = [p for name, p in cli.model.named_parameters() if "lora_B" in name]
    assert lora_b
    assert any(p.ne(0).any() for p in lora_b)  # B starts at 0: the truncated gradient reached it
    (last,) = demo_config.parent.rglob("last.ckpt")
    assert load_model(last).gradient_steps == 1  # the checkpoint records the setting
