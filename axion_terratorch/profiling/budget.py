"""The memory budget of one training step as a report: :class:`MemoryBudget`, its table and JSON.

Measured by :func:`~axion_terratorch.profiling.memory.measure_training_memory`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, get_args

Precision = Literal["32-true", "16-mixed", "bf16-mixed"]
#: Lightning's short precision names and what they mean (``lightning.fabric.connector``).
PRECISION_ALIASES: dict[str, Precision] = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}
PRECISIONS: tuple[Precision, ...] = get_args(Precision)

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
            ``gradient_steps``, ``checkpoint_steps``, ``frozen_dtype``, ``variant``), where it has them.
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
        """The original Stage 3 guide's total: resident memory plus the activations kept for backward."""
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
        """The original Stage 3 guide's table as Markdown, in GiB (MiB below 0.1 GiB)."""
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
