"""The memory budget: components add up, AdamW state is two moments, and the activations respond to
the settings that should change them (tiny models, 32-64 px, 1-2 DDIM steps; sizes only, no timings)."""

import json

import pytest
import torch

from axion_terratorch import SARGroundingTask
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import LoraSettings, TerraMindGenerativeGrounding
from axion_terratorch.profiling.budget import MemoryBudget, normalize_precision
from axion_terratorch.profiling.memory import measure_training_memory, task_optimizer
from axion_terratorch.profiling.task_config import build_task

from run_configs import OFFLINE_TEST_SIZE

pytestmark = [pytest.mark.slow, *OFFLINE_TEST_SIZE]

LOWVR = {
    "class_path": "axion_terratorch.SARGroundingTask",
    "init_args": {
        "model": {
            "class_path": "axion_terratorch.models.TerraMindGenerativeGrounding",
            "init_args": {"variant": "tiny", "pretrained": True, "timesteps": 1},
        },
        "loss": {"class_path": "axion_terratorch.losses.Stage3Loss", "init_args": {"use_lpips": False}},
    },
}


def make_task(frozen_dtype: str = "float32") -> SARGroundingTask:
    model = TerraMindGenerativeGrounding(
        variant="tiny", pretrained=False, timesteps=1, lora=LoraSettings(rank=8), frozen_dtype=frozen_dtype
    )
    return SARGroundingTask(
        model=model, loss=Stage3Loss(use_lpips=False), metrics=GroundingMetrics(lpips=False)
    )


@pytest.fixture(scope="module")
def task() -> SARGroundingTask:
    return make_task()


def measure(
    task, timesteps=1, checkpoint_steps=False, tile_size=32, gradient_steps=None, **kwargs
) -> MemoryBudget:
    task.model.timesteps = timesteps
    task.model.gradient_steps = gradient_steps
    task.model.checkpoint_steps = checkpoint_steps
    return measure_training_memory(task, batch_size=1, tile_size=tile_size, **kwargs)


@pytest.fixture(scope="module")
def budget(task) -> MemoryBudget:
    return measure(task)


def test_components_add_up_and_match_the_parameters(task, budget):
    trainable = [p for p in task.parameters() if p.requires_grad]
    assert budget.trainable_parameters == sum(p.numel() for p in trainable) == 43_008
    assert budget.adapter_bytes == 4 * budget.trainable_parameters  # float32 adapters
    assert budget.gradient_bytes == budget.adapter_bytes
    # AdamW: exp_avg and exp_avg_sq per trainable value, plus a float32 step count per tensor
    assert budget.optimizer_bytes == 2 * budget.adapter_bytes + 4 * len(trainable)
    frozen = sum(p.numel() * p.element_size() for p in task.parameters() if not p.requires_grad)
    frozen += sum(b.numel() * b.element_size() for b in task.buffers())
    assert budget.frozen_bytes == frozen
    assert budget.total_bytes == (
        budget.frozen_bytes
        + budget.adapter_bytes
        + budget.gradient_bytes
        + budget.optimizer_bytes
        + budget.activation_bytes
    )
    assert budget.activation_bytes > 0
    # every saved activation is allocated during the step and alive at the end of the forward pass
    assert budget.step_peak_bytes >= budget.activation_bytes
    assert budget.peak_bytes >= budget.total_bytes
    assert budget.trainable_share == pytest.approx(43_008 / budget.total_parameters)
    assert budget.cuda_peak_bytes is None


def test_report_is_json_serialisable_with_derived_figures(budget):
    report = json.loads(json.dumps(budget.to_dict()))
    for key in ("total_bytes", "peak_bytes", "resident_bytes", "trainable_share", "model_settings"):
        assert key in report
    assert report["model_settings"] == {
        "variant": "tiny",
        "timesteps": 1,
        "gradient_steps": 1,  # every step: null in the model, reported as the count
        "checkpoint_steps": False,
        "frozen_dtype": "float32",
    }
    assert "| **Total** (sum of the above) |" in budget.table()


def test_activations_grow_with_timesteps_and_tile_size(task, budget):
    two_steps = measure(task, timesteps=2)
    bigger = measure(task, tile_size=64)
    assert two_steps.activation_bytes > 1.5 * budget.activation_bytes
    assert bigger.activation_bytes > 2 * budget.activation_bytes


def test_checkpointing_reduces_the_activations_kept(task):
    plain = measure(task, timesteps=2)
    ckpt = measure(task, timesteps=2, checkpoint_steps=True)
    assert ckpt.activation_bytes < plain.activation_bytes / 4
    assert ckpt.step_peak_bytes < plain.step_peak_bytes  # one step recomputed at a time


def test_truncated_backpropagation_keeps_one_step_of_activations_fewer(task):
    every = measure(task, timesteps=2)
    last = measure(task, timesteps=2, gradient_steps=1)
    assert (every.model_settings["gradient_steps"], last.model_settings["gradient_steps"]) == (2, 1)
    assert last.activation_bytes < 0.75 * every.activation_bytes
    assert last.step_peak_bytes < every.step_peak_bytes


def test_mixed_precision_keeps_half_copies_of_float32_frozen_weights(task):
    """Under autocast every float32 weight a step uses is cast, and the copy saved for backward."""
    fp32 = measure(task, precision="32-true")
    mixed = measure(task, precision="16-mixed")
    decoder_weight_bytes = sum(p.numel() for p in task.model.tokenizer.decoder.parameters() if p.ndim > 1) * 2
    assert mixed.compute_dtype == "bfloat16"
    assert mixed.activation_bytes > fp32.activation_bytes + 0.9 * decoder_weight_bytes


def test_half_frozen_weights_halve_the_weights_and_drop_the_copies(task):
    half = make_task("float16")
    fp32_mixed = measure(task, precision="16-mixed")
    half_mixed = measure(half, precision="16-mixed")
    assert half_mixed.frozen_bytes < 0.51 * fp32_mixed.frozen_bytes
    assert half_mixed.activation_bytes < fp32_mixed.activation_bytes / 10
    assert half_mixed.adapter_bytes == fp32_mixed.adapter_bytes  # adapters stay float32


def test_bfloat16_stands_in_for_float16_byte_for_byte():
    """On the CPU 16-mixed is measured in bfloat16 (fast); float16 itself saves the same bytes."""
    as_bf16 = measure(make_task("float16"), precision="16-mixed")
    as_fp16 = measure(make_task("float16"), precision="16-mixed", cpu_half=torch.float16)
    assert as_fp16.compute_dtype == "float16"
    assert as_fp16.activation_bytes == as_bf16.activation_bytes
    assert as_fp16.frozen_bytes == as_bf16.frozen_bytes


def test_build_task_as_lightning_cli_offline():
    task = build_task(LOWVR, {"checkpoint_steps": True})
    assert isinstance(task, SARGroundingTask)
    assert task.model.variant == "tiny"
    assert task.model.checkpoint_steps is True
    with pytest.raises(ValueError, match="'rank'"):
        build_task(LOWVR, {"rank": 4})


@pytest.mark.parametrize(
    ("given", "expected"), [("16", "16-mixed"), (32, "32-true"), ("bf16-mixed", "bf16-mixed")]
)
def test_precision_names(given, expected):
    assert normalize_precision(given) == expected


def test_bad_arguments_name_the_value(task):
    with pytest.raises(ValueError, match="'16-true'"):
        normalize_precision("16-true")
    with pytest.raises(ValueError, match="batch_size"):
        measure_training_memory(task, batch_size=0)


def test_the_optimizer_is_the_one_training_uses():
    """The measured optimizer is what the task's configure_optimizers() builds, scheduler or not."""
    model = TerraMindGenerativeGrounding(variant="tiny", pretrained=False, timesteps=1)
    task = SARGroundingTask(
        model=model,
        loss=Stage3Loss(use_lpips=False),
        metrics=GroundingMetrics(lpips=False),
        optimizer="Adam",
        lr=3e-4,
        optimizer_hparams={"weight_decay": 0.01},
        scheduler="axion_terratorch.schedulers.WarmupCosineLR",
        scheduler_hparams={"interval": "step", "warmup_steps": 5},
    )
    optimizer = task_optimizer(task)
    assert type(optimizer) is torch.optim.Adam
    (group,) = optimizer.param_groups
    assert group["weight_decay"] == 0.01
    assert group["initial_lr"] == 3e-4  # the scheduler was built on it, as in training
    assert {id(p) for p in group["params"]} == {id(p) for p in task.parameters() if p.requires_grad}
    with pytest.raises(RuntimeError, match="not attached"):
        _ = task.trainer  # detached again
