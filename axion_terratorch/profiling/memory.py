"""The training memory budget of a configured task, measured on one real training step.

The seed's table (frozen weights, LoRA adapters, gradients, optimizer state, activations, total),
measured instead of estimated: the task is built from a config's ``model:`` section as LightningCLI
builds it, then one training step runs in the steady state of gradient accumulation (gradients and
optimizer state already allocated): forward pass and loss under the configured precision, backward
pass, optimizer step. Weight values do not change any size, so pretrained downloads are turned off.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from jsonargparse import ArgumentParser
from jsonargparse.typing import import_object
from torch import Tensor, nn

from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.models.lora import count_parameters
from axion_terratorch.profiling.tensors import PeakTensorMeter, SavedTensorMeter, storage_bytes

logger = logging.getLogger(__name__)

Precision = Literal["32-true", "16-mixed", "bf16-mixed"]
#: Lightning's short precision names and what they mean (``lightning.fabric.connector``).
PRECISION_ALIASES: dict[str, Precision] = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}
PRECISIONS: tuple[Precision, ...] = ("32-true", "16-mixed", "bf16-mixed")
#: Model arguments of a measurement: no download, no local weight file; the generative model's
#: zero-initialised decoder layers get stand-in weights (same sizes, and gradients flow as with real ones).
OFFLINE_MODEL_ARGS: dict[str, Any] = {"pretrained": False, "ckpt_path": None, "stand_in_decoder": True}
#: Loss and metrics arguments turned off for a measurement (LPIPS's torchvision backbone is a download).
OFFLINE_LOSS_ARGS: dict[str, Any] = {"lpips_pretrained_backbone": False}
#: The task's default metrics, written out so that :data:`OFFLINE_LOSS_ARGS` can reach them.
DEFAULT_METRICS = "axion_terratorch.metrics.GroundingMetrics"

GIB = 2**30


@dataclasses.dataclass(frozen=True)
class MemoryBudget:
    """Memory of one training step, in bytes, by component.

    Attributes:
        model: Class name of the task's model.
        precision: Lightning precision of the step (``32-true``, ``16-mixed``, ``bf16-mixed``).
        compute_dtype: Dtype autocast ran in (``float32`` when off). On the CPU ``16-mixed`` runs
            in ``bfloat16`` by default: the same element size and the same autocast op lists as
            ``float16``, so the same bytes, at a fraction of the CPU time.
        device: Device measured on.
        batch_size: Samples in the batch.
        tile_size: Tile side in pixels.
        model_settings: Settings of the model that change memory (``timesteps``,
            ``checkpoint_steps``, ``frozen_dtype``, ``variant``), where it has them.
        trainable_parameters: Trainable parameters of the model.
        total_parameters: All parameters of the model.
        frozen_bytes: Frozen parameters and buffers of the task (model and loss networks).
        adapter_bytes: Trainable parameters (the LoRA adapters when the base is frozen).
        gradient_bytes: Gradients of the trainable parameters.
        optimizer_bytes: Optimizer state (AdamW: two moments per trainable value + a step count
            per parameter tensor).
        activation_bytes: Tensors autograd kept for backward during the forward pass and loss
            (:class:`SavedTensorMeter`: each storage once, parameters and buffers excluded).
        step_peak_bytes: Peak of the tensors allocated during the step, on top of the resident
            weights, gradients and optimizer state (:class:`PeakTensorMeter`): saved activations
            plus temporaries, incoming gradients and, with checkpointing, the recomputed region.
        cuda_peak_bytes: ``torch.cuda.max_memory_allocated`` over the step, on CUDA; else ``None``.
    """

    model: str
    precision: Precision
    compute_dtype: str
    device: str
    batch_size: int
    tile_size: int
    model_settings: dict[str, Any]
    trainable_parameters: int
    total_parameters: int
    frozen_bytes: int
    adapter_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    step_peak_bytes: int
    cuda_peak_bytes: int | None = None

    @property
    def resident_bytes(self) -> int:
        """Weights, gradients and optimizer state: held for the whole run."""
        return self.frozen_bytes + self.adapter_bytes + self.gradient_bytes + self.optimizer_bytes

    @property
    def total_bytes(self) -> int:
        """The seed's total: resident memory plus the activations kept for backward."""
        return self.resident_bytes + self.activation_bytes

    @property
    def peak_bytes(self) -> int:
        """Resident memory plus the step's peak: what the device must hold (before allocator slack)."""
        return self.resident_bytes + self.step_peak_bytes

    @property
    def trainable_share(self) -> float:
        """Trainable parameters of the model as a fraction of all its parameters."""
        return self.trainable_parameters / max(self.total_parameters, 1)

    def to_dict(self) -> dict[str, Any]:
        """Every field plus ``resident_bytes``, ``total_bytes``, ``peak_bytes``, ``trainable_share``."""
        out = dataclasses.asdict(self)
        for name in ("resident_bytes", "total_bytes", "peak_bytes", "trainable_share"):
            out[name] = getattr(self, name)
        return out

    def table(self) -> str:
        """The seed's table as Markdown, in GiB (MiB below 0.1 GiB)."""
        settings = ", ".join(f"{k} {v}" for k, v in self.model_settings.items())
        rows = [
            ("Frozen weights (model + loss networks)", self.frozen_bytes),
            ("LoRA adapters (trainable)", self.adapter_bytes),
            ("Gradients", self.gradient_bytes),
            ("Optimizer state", self.optimizer_bytes),
            ("Activations kept for backward", self.activation_bytes),
            ("**Total** (sum of the above)", self.total_bytes),
            ("**Peak** (resident + step peak)", self.peak_bytes),
        ]
        if self.cuda_peak_bytes is not None:
            rows.append(("CUDA max_memory_allocated", self.cuda_peak_bytes))
        lines = [
            (
                f"{self.model} ({settings}); {self.precision} (compute {self.compute_dtype}) on "
                f"{self.device}, batch {self.batch_size}, tile {self.tile_size} px; trainable "
                f"{self.trainable_parameters:,} of {self.total_parameters:,} ({100 * self.trainable_share:.3f}%)"
            ),
            "",
            "| Component | Memory |",
            "|---|---:|",
        ]
        lines += [f"| {name} | {format_bytes(value)} |" for name, value in rows]
        return "\n".join(lines)


def format_bytes(value: int) -> str:
    """``1.23 GiB``, or ``12.3 MiB`` below 0.1 GiB."""
    if value >= GIB // 10:
        return f"{value / GIB:.2f} GiB"
    return f"{value / 2**20:.1f} MiB"


def normalize_precision(precision: str | int) -> Precision:
    """Map Lightning's precision names (``16``, ``"16-mixed"``, ...) to a :data:`Precision`.

    Raises:
        ValueError: For a precision that is not measured here; the message lists the valid ones.
    """
    name = str(precision)
    name = PRECISION_ALIASES.get(name, name)
    if name not in PRECISIONS:
        msg = (
            f"precision {precision!r} is not supported here; use one of {list(PRECISIONS)} (or 32, 16, bf16)"
        )
        raise ValueError(msg)
    return name  # type: ignore[return-value]


def compute_dtype(precision: Precision, device: str, cpu_half: torch.dtype = torch.bfloat16) -> torch.dtype:
    """Autocast dtype of ``precision`` on ``device`` (``float32``: autocast off)."""
    if precision == "32-true":
        return torch.float32
    if precision == "bf16-mixed":
        return torch.bfloat16
    return cpu_half if torch.device(device).type == "cpu" else torch.float16


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a terratorch/LightningCLI YAML config.

    Raises:
        FileNotFoundError: If the file does not exist.
        TypeError: If it has no ``model`` section (a mapping).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"config not found: {path}"
        raise FileNotFoundError(msg)
    config = yaml.safe_load(path.read_text()) or {}
    if not isinstance(config.get("model"), dict):
        msg = f"{path} has no `model:` section (class_path / init_args of the task)"
        raise TypeError(msg)
    return config


def build_task(
    model_section: Mapping[str, Any], model_overrides: Mapping[str, Any] | None = None, offline: bool = True
) -> nn.Module:
    """Build the task of a config's ``model:`` section as LightningCLI does (jsonargparse).

    Args:
        model_section: ``{"class_path": ..., "init_args": {...}}`` of the task.
        model_overrides: Values for ``init_args.model.init_args`` (e.g. ``timesteps``); keys the
            model class does not accept raise.
        offline: Set :data:`OFFLINE_MODEL_ARGS` on the model and :data:`OFFLINE_LOSS_ARGS` on the loss
            and the metrics where their classes accept them (sizes do not depend on weight values).
            A task that takes ``metrics`` but has none configured gets :data:`DEFAULT_METRICS` on
            the model's bands, what :class:`~axion_terratorch.tasks.SARGroundingTask` builds by
            default, with those arguments.

    Returns:
        The instantiated task (a torchgeo ``BaseTask``).

    Raises:
        ValueError: If an override names an argument the model does not take, or jsonargparse
            rejects the section (its message names the key).
    """
    from torchgeo.trainers import BaseTask  # heavy import, here only

    section = copy.deepcopy(dict(model_section))
    init_args = section.setdefault("init_args", {})
    model_node = init_args.get("model")
    for key, value in (model_overrides or {}).items():
        if not _set_arg(model_node, key, value):
            msg = f"model.init_args.model does not take {key!r} (class {_class_path(model_node)!r})"
            raise ValueError(msg)
    if offline:
        for key, value in OFFLINE_MODEL_ARGS.items():
            _set_arg(model_node, key, value)
        if init_args.get("metrics") is None and _takes(section, "metrics"):
            bands = ((model_node or {}).get("init_args") or {}).get("bands", list(DEFAULT_BANDS))
            init_args["metrics"] = {"class_path": DEFAULT_METRICS, "init_args": {"bands": list(bands)}}
        for key, value in OFFLINE_LOSS_ARGS.items():
            _set_arg(init_args.get("loss"), key, value)
            _set_arg(init_args.get("metrics"), key, value)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(BaseTask, "model", fail_untyped=False, required=True)
    try:
        config = parser.parse_object({"model": section})
    except Exception as error:  # jsonargparse raises its own ArgumentError
        msg = f"invalid model section: {error}"
        raise ValueError(msg) from error
    return parser.instantiate_classes(config).model


def _class_path(node: Any) -> str | None:
    return node.get("class_path") if isinstance(node, dict) else None


def _takes(node: Any, key: str) -> bool:
    """Whether ``node`` is a class_path dict whose class's ``__init__`` has an argument ``key``."""
    class_path = _class_path(node)
    return class_path is not None and key in inspect.signature(import_object(class_path).__init__).parameters


def _set_arg(node: Any, key: str, value: Any) -> bool:
    """Set ``node["init_args"][key]`` if ``node`` is a class_path dict whose class takes ``key``."""
    if not _takes(node, key):
        return False
    node.setdefault("init_args", {})[key] = value
    return True


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


def task_optimizer(task: nn.Module) -> torch.optim.Optimizer:
    """The task's optimizer over its trainable parameters, from its hyperparameters.

    Reads terratorch's / torchgeo's ``optimizer`` (a ``torch.optim`` class name, default AdamW),
    ``lr`` and ``optimizer_hparams``; the learning-rate scheduler is left out (it holds no
    tensors, and ``configure_optimizers`` may need a ``Trainer`` to size it).

    Raises:
        ValueError: If ``optimizer`` is not a ``torch.optim`` class name.
    """
    hparams = getattr(task, "hparams", {}) or {}
    name = hparams.get("optimizer", "AdamW")
    if not isinstance(name, str) or not hasattr(torch.optim, name):
        msg = f"optimizer {name!r} is not a torch.optim optimizer (model.init_args.optimizer)"
        raise ValueError(msg)
    params = [p for p in task.parameters() if p.requires_grad]
    extra = dict(hparams.get("optimizer_hparams") or {})
    return getattr(torch.optim, name)(params, lr=hparams.get("lr", 1e-3), **extra)


def measure_training_memory(
    task: nn.Module,
    batch_size: int = 1,
    tile_size: int = 224,
    precision: str | int = "32-true",
    device: str | torch.device = "cpu",
    cpu_half: torch.dtype = torch.bfloat16,
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

    Returns:
        The :class:`MemoryBudget`.

    Raises:
        ValueError: For an unsupported precision or a non-positive batch or tile size.
    """
    precision = normalize_precision(precision)
    if batch_size < 1 or tile_size < 1:
        msg = f"batch_size and tile_size must be >= 1, got {batch_size} and {tile_size}"
        raise ValueError(msg)
    device = torch.device(device)
    dtype = compute_dtype(precision, str(device), cpu_half)
    task = task.to(device).train()
    if device.type == "cpu" and precision == "16-mixed" and dtype != torch.float16:
        _stand_in_half(task, dtype)
    trainable = [p for p in task.parameters() if p.requires_grad]
    frozen = [p for p in task.parameters() if not p.requires_grad] + list(task.buffers())
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
        with _autocast(device, dtype), saved:
            loss = task.compute_loss(task(batch["image"]), batch)["loss"]
        loss.backward()
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


def _stand_in_half(task: nn.Module, dtype: torch.dtype) -> None:
    """Store float16 parameters in ``dtype`` (same element size), so that autocast in ``dtype``
    uses them as it would use float16 ones under float16 autocast, without copies."""
    for param in task.parameters():
        if param.dtype == torch.float16:
            param.data = param.data.to(dtype)


def model_settings(model: nn.Module) -> dict[str, Any]:
    """The memory-relevant settings a model exposes (``variant``, ``timesteps``, ...)."""
    names = ("variant", "timesteps", "checkpoint_steps", "frozen_dtype")
    settings = {name: getattr(model, name) for name in names if hasattr(model, name)}
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
