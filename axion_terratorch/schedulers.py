"""Learning-rate schedules stepped per optimizer step."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosineLR(LambdaLR):
    """Linear warmup from ~0 to the optimizer's lr, then cosine decay to ``min_lr`` (original guide).

    Step it once per optimizer step (``interval: step`` in the task's ``scheduler_hparams``), so
    gradient accumulation does not stretch it. Through :class:`~axion_terratorch.SARGroundingTask`
    ``total_steps`` defaults to the trainer's number of optimizer steps
    (``trainer.estimated_stepping_batches``, which accounts for ``max_steps``, epochs and accumulation).
    Unlike ``diffusers.optimization.get_cosine_schedule_with_warmup`` (a factory function, decaying to
    0) it is a class that a YAML ``scheduler`` path can name, with the guide's ``min_lr`` floor and a
    ``warmup_ratio`` option.

    Why not terratorch's ``SequentialLR`` form, ``SequentialLR([LinearLR(start_factor=1 / (W + 1),
    total_iters=W), CosineAnnealingLR(T_max=N - W, eta_min=min_lr)], milestones=[W])``: it gives the
    same rates (``tests/test_schedulers.py``) and the task accepts it, but a YAML has to write the
    run length ``N`` into ``T_max`` a second time. Overriding ``trainer.max_steps`` (on the command
    line, ``axion-stage3 train --max-steps`` or its smoke run) then leaves ``T_max`` stale, and past
    ``T_max`` ``CosineAnnealingLR`` climbs back up; nor can it take the warmup as a ratio of the run,
    or shorten a warmup longer than the run (it warms up to the end without a word). This class
    takes ``N`` from the trainer and does all three.

    Args:
        optimizer: The optimizer; its ``lr`` is the peak learning rate.
        total_steps: Optimizer steps of the whole run (warmup included).
        warmup_steps: Warmup length in optimizer steps.
        warmup_ratio: Warmup length as a fraction of ``total_steps`` (instead of ``warmup_steps``).
        min_lr: Learning rate at the end of the cosine.

    A ``warmup_steps`` not shorter than ``total_steps`` (a short run of a long recipe) is clamped to
    ``total_steps - 1`` with a warning.

    Raises:
        ValueError: If both or neither warmup argument is given, or a value is out of range; the
            message names the argument.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        warmup_steps: int | None = None,
        warmup_ratio: float | None = None,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if total_steps < 1:
            msg = f"total_steps must be >= 1, got {total_steps}"
            raise ValueError(msg)
        if (warmup_steps is None) == (warmup_ratio is None):
            msg = "give exactly one of warmup_steps and warmup_ratio"
            raise ValueError(msg)
        if warmup_ratio is not None:
            if not 0 <= warmup_ratio < 1:
                msg = f"warmup_ratio must be in [0, 1), got {warmup_ratio}"
                raise ValueError(msg)
            warmup_steps = round(warmup_ratio * total_steps)
        if warmup_steps < 0:
            msg = f"warmup_steps must be >= 0, got {warmup_steps}"
            raise ValueError(msg)
        if warmup_steps >= total_steps:
            # A short run (a smoke test, a debug run with a smaller max_steps) of a long recipe:
            # warm up over all but the last step rather than refuse to start.
            warnings.warn(
                f"warmup_steps={warmup_steps} is not shorter than the run ({total_steps} optimizer steps): "
                f"warming up over {total_steps - 1} steps instead (set scheduler_hparams.warmup_ratio "
                "to scale the warmup with the run)",
                UserWarning,
                stacklevel=2,
            )
            warmup_steps = total_steps - 1
        if min_lr < 0:
            msg = f"min_lr must be >= 0, got {min_lr}"
            raise ValueError(msg)
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.min_lr = min_lr
        peaks = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
        lambdas = [self._factor_fn(peak) for peak in peaks]
        super().__init__(optimizer, lambdas, last_epoch)

    def _factor_fn(self, peak: float) -> Callable[[int], float]:
        floor = min(self.min_lr / peak, 1.0) if peak > 0 else 0.0

        def factor(step: int) -> float:
            if step < self.warmup_steps:
                return (step + 1) / (self.warmup_steps + 1)
            progress = min((step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        return factor
