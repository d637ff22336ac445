"""The training memory budget of a configured task, measured on one real training step.

The original Stage 3 guide's table (frozen weights, LoRA adapters, gradients, optimizer state,
activations, total), measured instead of estimated: the task is built from a config's ``model:``
section as LightningCLI builds it, then one training step runs in the steady state of gradient
accumulation (gradients and optimizer state already allocated): forward pass and loss under the
configured precision, backward pass, optimizer step. Weight values do not change any size, so
pretrained downloads are turned off.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.models.lora import count_parameters
from axion_terratorch.profiling.budget import MemoryBudget, Precision, format_bytes, normalize_precision
from axion_terratorch.profiling.tensors import PeakTensorMeter, SavedTensorMeter, storage_bytes

logger = logging.getLogger(__name__)

#: Tile side of the timed forward pass :func:`estimate_step_seconds` scales from (a multiple of 16).
PROBE_TILE = 32
#: A training step's cost in forward passes: the forward, and a backward of about twice its cost.
STEP_PER_FORWARD = 3.0


def compute_dtype(precision: Precision, device: str, cpu_half: torch.dtype = torch.bfloat16) -> torch.dtype:
    """Autocast dtype of ``precision`` on ``device`` (``float32``: autocast off)."""
    if precision == "32-true":
        return torch.float32
    if precision == "bf16-mixed":
        return torch.bfloat16
    return cpu_half if torch.device(device).type == "cpu" else torch.float16


def make_batch(
    bands: tuple[str, ...], batch_size: int, tile_size: int, device: str | torch.device, seed: int = 0
) -> dict[str, Any]:
    """A synthetic training batch in the task's layout (sizes are all that matter here).

    Returns:
        ``{"image": {"S1GRD": (B, 2, T, T) dB, "S2L2A": (B, C, T, T) reflectance},
        "target": (B, C, T, T) reflectance, "valid_mask": (B, 1, T, T) bool}``.
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (batch_size, len(bands), tile_size, tile_size)
    batch = {
        "image": {
            SAR_KEY: torch.randn(batch_size, 2, tile_size, tile_size, generator=gen) * 4 - 14,
            OPTICAL_KEY: torch.rand(shape, generator=gen) * 0.3,
        },
        "target": torch.rand(shape, generator=gen) * 0.3,
        "valid_mask": torch.ones(batch_size, 1, tile_size, tile_size, dtype=torch.bool),
    }
    return _to(batch, device)


def _to(batch: Any, device: str | torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device)
    return {key: _to(value, device) for key, value in batch.items()}


def task_optimizer(task: pl.LightningModule) -> torch.optim.Optimizer:
    """The optimizer training uses: the (first) one ``task.configure_optimizers()`` returns.

    Schedulers hold no tensors and are dropped. The task is attached for the call to a one-step
    ``Trainer`` (what a scheduler sized by ``trainer.estimated_stepping_batches`` asks for) and
    detached after.

    Raises:
        ValueError: If ``configure_optimizers()`` rejects the task's settings or returns no optimizer.
    """
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=-1,
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    task.trainer = trainer
    try:
        return _first_optimizer(task.configure_optimizers())
    finally:
        task.trainer = None


def _first_optimizer(configured: Any) -> torch.optim.Optimizer:
    """The first optimizer of any form Lightning accepts from ``configure_optimizers()``."""
    if isinstance(configured, torch.optim.Optimizer):
        return configured
    if isinstance(configured, Mapping) and "optimizer" in configured:
        return _first_optimizer(configured["optimizer"])
    if isinstance(configured, list | tuple) and configured:
        return _first_optimizer(configured[0])
    msg = f"configure_optimizers() returned no optimizer: {configured!r}"
    raise ValueError(msg)


def measure_training_memory(
    task: nn.Module,
    batch_size: int = 1,
    tile_size: int = 224,
    precision: str | int = "32-true",
    device: str | torch.device = "cpu",
    cpu_half: torch.dtype = torch.bfloat16,
    phase: Callable[[str], None] | None = None,
) -> MemoryBudget:
    """Run one training step of ``task`` and measure its memory by component.

    The step is the steady state of gradient accumulation: the trainable parameters already hold
    gradients and the optimizer already holds its state (one optimizer step on zero gradients
    creates it first). Then, on a synthetic batch: forward pass and ``task.compute_loss`` under
    autocast (as Lightning's mixed-precision plugin runs ``training_step``), backward pass (loss
    scaling changes no size and is left out), optimizer step.

    Args:
        task: A task with ``model``, ``compute_loss(output, batch)`` and ``configure_optimizers()``
            (:class:`~axion_terratorch.tasks.SARGroundingTask`).
        batch_size: Samples per batch.
        tile_size: Tile side in pixels.
        precision: Lightning precision (``32-true``, ``16-mixed``, ``bf16-mixed`` or 32/16/bf16).
        device: Where to run (CUDA adds ``torch.cuda.max_memory_allocated``).
        cpu_half: Autocast dtype of ``16-mixed`` on the CPU (see :attr:`MemoryBudget.compute_dtype`);
            Lightning itself runs ``16-mixed`` in ``bfloat16`` on the CPU. When it is not float16,
            float16 parameters (``frozen_dtype: float16``) are stored in it too for the step: the
            same bytes, and no per-use cast that float16 autocast on a GPU would not make either.
            The task is modified in place.
        phase: Called with the name of each phase as it starts (``optimizer state``, ``forward
            pass and loss``, ``backward pass``, ``optimizer step``), e.g. to print progress.

    Returns:
        The :class:`MemoryBudget`.

    Raises:
        ValueError: For an unsupported precision or a non-positive batch or tile size.
    """
    precision = normalize_precision(precision)
    if batch_size < 1 or tile_size < 1:
        msg = f"batch_size and tile_size must be >= 1, got {batch_size} and {tile_size}"
        raise ValueError(msg)
    phase = phase or (lambda _name: None)
    device = torch.device(device)
    dtype = compute_dtype(precision, str(device), cpu_half)
    task = task.to(device).train()
    if device.type == "cpu" and precision == "16-mixed" and dtype != torch.float16:
        _stand_in_half(task, dtype)
    trainable = [p for p in task.parameters() if p.requires_grad]
    frozen = [p for p in task.parameters() if not p.requires_grad] + list(task.buffers())
    phase("optimizer state")
    optimizer = task_optimizer(task)
    for param in trainable:
        param.grad = torch.zeros_like(param)
    optimizer.step()  # allocates the state; zero gradients leave the adapters where they are
    is_cuda = device.type == "cuda"
    if is_cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    saved = SavedTensorMeter(exclude=[*trainable, *frozen])
    with PeakTensorMeter() as peak:
        batch = make_batch(_bands(task), batch_size, tile_size, device)
        phase("forward pass and loss")
        with _autocast(device, dtype), saved:
            loss = task.compute_loss(task(batch["image"]), batch)["loss"]
        phase("backward pass")
        loss.backward()
        phase("optimizer step")
        optimizer.step()
        del loss, batch
    cuda_peak = torch.cuda.max_memory_allocated(device) if is_cuda else None
    trainable_count, total_count = count_parameters(task.model)
    budget = MemoryBudget(
        model=type(task.model).__name__,
        precision=precision,
        compute_dtype=str(dtype).removeprefix("torch."),
        device=str(device),
        batch_size=batch_size,
        tile_size=tile_size,
        model_settings=model_settings(task.model),
        trainable_parameters=trainable_count,
        total_parameters=total_count,
        frozen_bytes=storage_bytes(frozen),
        adapter_bytes=storage_bytes(trainable),
        gradient_bytes=storage_bytes(p.grad for p in trainable if p.grad is not None),
        optimizer_bytes=storage_bytes(
            value
            for state in optimizer.state.values()
            for value in state.values()
            if isinstance(value, Tensor)
        ),
        activation_bytes=saved.bytes,
        step_peak_bytes=peak.peak,
        cuda_peak_bytes=cuda_peak,
    )
    optimizer.zero_grad(set_to_none=True)
    logger.info(
        "memory budget: total %s, peak %s", format_bytes(budget.total_bytes), format_bytes(budget.peak_bytes)
    )
    return budget


def estimate_step_seconds(
    task: nn.Module, batch_size: int, tile_size: int, device: str | torch.device = "cpu"
) -> tuple[float, float]:
    """Time one forward pass of ``task`` on a small tile and scale it to the measured step.

    The forward pass runs twice without gradients on one :data:`PROBE_TILE` px sample (or the tile,
    if smaller) and the second is timed; the estimate scales it by the pixels of the measured batch and by
    :data:`STEP_PER_FORWARD`. Small tiles carry more fixed overhead per pixel, so it errs long.

    Returns:
        ``(probe seconds, estimated seconds of the measured step)``.
    """
    probe = min(PROBE_TILE, tile_size)
    batch = make_batch(_bands(task), 1, probe, device)
    task = task.to(device)
    with torch.no_grad():
        task(batch["image"])  # the first call carries one-time costs (lazy init, kernel selection)
        start = time.perf_counter()
        task(batch["image"])
        seconds = time.perf_counter() - start
    return seconds, seconds * STEP_PER_FORWARD * batch_size * (tile_size / probe) ** 2


def _stand_in_half(task: nn.Module, dtype: torch.dtype) -> None:
    """Store float16 parameters in ``dtype`` (same element size), so that autocast in ``dtype``
    uses them as it would use float16 ones under float16 autocast, without copies."""
    for param in task.parameters():
        if param.dtype == torch.float16:
            param.data = param.data.to(dtype)


def model_settings(model: nn.Module) -> dict[str, Any]:
    """The memory-relevant settings a model exposes (``variant``, ``timesteps``, ...).

    ``gradient_steps`` is the count backpropagated through: ``timesteps`` when the model leaves it
    ``None`` (every step).
    """
    names = ("variant", "timesteps", "gradient_steps", "checkpoint_steps", "frozen_dtype")
    settings = {name: getattr(model, name) for name in names if hasattr(model, name)}
    if "gradient_steps" in settings and settings["gradient_steps"] is None:
        settings["gradient_steps"] = settings.get("timesteps")
    backbone = getattr(model, "backbone", None)
    if "variant" not in settings and hasattr(backbone, "variant"):
        settings["variant"] = backbone.variant
    return settings


def _bands(task: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(task, "bands", None) or getattr(task.model, "bands", DEFAULT_BANDS))


@contextlib.contextmanager
def _autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    if dtype == torch.float32:
        yield
    else:
        with torch.autocast(device.type, dtype=dtype):
            yield
