"""Skip optimizer steps with a non-finite loss or gradients; stop after too many in a row."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from torch.optim import Optimizer

from axion_terratorch.argument_bounds import check_at_least

#: What to try when training keeps producing non-finite values (part of the stop message).
ADVICE = (
    "To investigate: set `trainer.detect_anomaly: true` to find the operation that first produces "
    "NaN/inf, lower the learning rate (`model.init_args.lr`) or clip gradients "
    "(`trainer.gradient_clip_val`), and prefer `trainer.precision: bf16-mixed` over `16-mixed`."
)


class NonFiniteTrainingError(RuntimeError):
    """Training produced a non-finite loss or gradients for too many consecutive optimizer steps."""


class NonFiniteGuard(Callback):
    """Skip an optimizer step whose loss or gradients are NaN/inf, and stop after a run of them.

    Per micro-batch the loss passed to backward is checked (on the device, no host sync); once per
    optimizer step, before gradient clipping and the step, the trainable gradients are checked and
    both flags are read in one host sync (plus one all-reduce under DDP, so all processes agree).
    A bad step gets a warning and its gradients are set to ``None``: torch optimizers (AdamW
    included) leave parameters without gradients untouched, moments and step counts included. The
    learning-rate scheduler still advances.

    Under fp16 AMP (``precision: 16-mixed``) Lightning's ``GradScaler`` already skips steps whose
    gradients overflow and lowers the loss scale (normal in the first steps): only a non-finite loss
    counts then. The loss checked is the one passed to backward, i.e. scaled by the ``GradScaler``
    under fp16 AMP (a finite fp32 loss overflows only if loss x scale > 3e38).

    Logged per step: ``train/skipped_steps`` (total). The total and the current run of consecutive
    skips are in the callback's state, saved in checkpoints and restored on resume.

    Args:
        max_consecutive: Consecutive skipped steps after which training stops with
            :class:`NonFiniteTrainingError`.

    Raises:
        ValueError: If ``max_consecutive < 1``.
    """

    def __init__(self, max_consecutive: int = 10) -> None:
        check_at_least(1, {"max_consecutive": max_consecutive})
        self.max_consecutive = max_consecutive
        self.skipped_steps = 0
        self.consecutive = 0
        self._bad_loss: Tensor | None = None

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        """Remember, on the device, whether this micro-batch's loss is non-finite."""
        bad = ~torch.isfinite(loss.detach()).all()
        self._bad_loss = bad if self._bad_loss is None else self._bad_loss | bad

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Optimizer
    ) -> None:
        """Skip the step (gradients to ``None``) if the loss or gradients are non-finite."""
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        bad_loss = (
            self._bad_loss
            if self._bad_loss is not None
            else torch.zeros((), dtype=torch.bool, device=pl_module.device)
        )
        self._bad_loss = None
        if getattr(trainer.precision_plugin, "scaler", None) is not None or not params:
            bad_grads = torch.zeros_like(bad_loss)  # the GradScaler handles overflowing gradients
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params], norm_type=math.inf)
            bad_grads = ~torch.isfinite(norm)
        flags = torch.stack([bad_loss.to(pl_module.device), bad_grads.to(pl_module.device)]).float()
        if trainer.world_size > 1:
            flags = trainer.strategy.reduce(flags, reduce_op="max")
        loss_is_bad, grads_are_bad = (bool(flag) for flag in flags.tolist())
        if loss_is_bad or grads_are_bad:
            self._skip(trainer, params, "loss" if loss_is_bad else "gradients")
        else:
            self.consecutive = 0
        pl_module.log("train/skipped_steps", float(self.skipped_steps), on_step=True, on_epoch=False)

    def _skip(self, trainer: pl.Trainer, params: list[torch.nn.Parameter], what: str) -> None:
        for p in params:
            p.grad = None
        self.skipped_steps += 1
        self.consecutive += 1
        step = trainer.global_step
        if self.consecutive >= self.max_consecutive:
            msg = (
                f"non-finite {what} at optimizer step {step}: {self.consecutive} consecutive steps "
                f"skipped (max_consecutive={self.max_consecutive}, {self.skipped_steps} skipped in "
                f"total); stopping instead of training on NaN/inf. {ADVICE}"
            )
            raise NonFiniteTrainingError(msg)
        rank_zero_warn(
            f"non-finite {what} at optimizer step {step}: step skipped "
            f"({self.consecutive} in a row, {self.skipped_steps} in total)"
        )

    def state_dict(self) -> dict[str, Any]:
        """Skip counters, saved in checkpoints."""
        return {"skipped_steps": self.skipped_steps, "consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the skip counters on resume."""
        self.skipped_steps = state_dict["skipped_steps"]
        self.consecutive = state_dict["consecutive"]
