"""NonFiniteGuard on a real tiny task: skipped steps leave the weights alone, too many stop the run."""

import math

import lightning.pytorch as pl
import pytest
import torch
from callback_run import BANDS, make_data, make_task, make_trainer
from lightning.pytorch.plugins import MixedPrecision

from axion_terratorch import SARGroundingTask
from axion_terratorch.callbacks import NonFiniteGuard, NonFiniteTrainingError
from axion_terratorch.losses import Stage3Loss


class FaultyTask(SARGroundingTask):
    """Makes the loss (``nan_loss_steps``) or only the gradients (``nan_grad_steps``) NaN on chosen steps."""

    nan_loss_steps: frozenset[int] = frozenset()
    nan_grad_steps: frozenset[int] = frozenset()

    def compute_loss(self, output, batch):
        step = self.trainer.global_step
        if self.training and step in self.nan_grad_steps:
            output.register_hook(lambda grad: torch.full_like(grad, math.nan))
        terms = super().compute_loss(output, batch)
        if self.training and step in self.nan_loss_steps:
            terms["loss"] = terms["loss"] * math.nan
        return terms


class WeightWatcher(pl.Callback):
    """Records, per training batch, whether any trainable parameter changed."""

    def __init__(self) -> None:
        self.changed: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._before = [p.detach().clone() for p in pl_module.parameters() if p.requires_grad]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        after = [p.detach() for p in pl_module.parameters() if p.requires_grad]
        self.changed.append(any(not torch.equal(a, b) for a, b in zip(self._before, after, strict=True)))


def faulty_task(model, nan_loss_steps=(), nan_grad_steps=(), **kwargs) -> FaultyTask:
    task = make_task(model, FaultyTask, **kwargs)
    task.nan_loss_steps = frozenset(nan_loss_steps)
    task.nan_grad_steps = frozenset(nan_grad_steps)
    return task


def test_non_finite_loss_skips_the_step_and_the_count_is_checkpointed(tiny_model, tmp_path):
    guard, watcher = NonFiniteGuard(max_consecutive=2), WeightWatcher()
    trainer = make_trainer(tmp_path, [guard, watcher], max_steps=3, limit_val_batches=0)
    with pytest.warns(UserWarning, match=r"non-finite loss at optimizer step 1: step skipped"):
        trainer.fit(faulty_task(tiny_model, nan_loss_steps={1}), make_data())
    assert watcher.changed == [True, False, True]
    assert (guard.skipped_steps, guard.consecutive) == (1, 0)
    assert trainer.callback_metrics["train/skipped_steps"] == 1
    trainer.save_checkpoint(tmp_path / "run.ckpt")
    saved = torch.load(tmp_path / "run.ckpt", weights_only=False)["callbacks"][guard.state_key]
    restored = NonFiniteGuard()
    restored.load_state_dict(saved)
    assert (restored.skipped_steps, restored.consecutive) == (1, 0)


def test_non_finite_gradients_skip_the_step_with_clipping_on(tiny_model, tmp_path):
    guard, watcher = NonFiniteGuard(max_consecutive=2), WeightWatcher()
    trainer = make_trainer(
        tmp_path, [guard, watcher], max_steps=2, limit_val_batches=0, gradient_clip_val=1.0
    )
    with pytest.warns(UserWarning, match=r"non-finite gradients at optimizer step 0"):
        trainer.fit(faulty_task(tiny_model, nan_grad_steps={0}), make_data())
    assert watcher.changed == [False, True]
    assert guard.skipped_steps == 1


def test_consecutive_skips_stop_the_run_with_advice(tiny_model, tmp_path):
    guard, watcher = NonFiniteGuard(max_consecutive=2), WeightWatcher()
    trainer = make_trainer(tmp_path, [guard, watcher], max_steps=3, limit_val_batches=0)
    message = r"non-finite loss at optimizer step 1: 2 consecutive steps skipped \(max_consecutive=2.*detect_anomaly"
    with pytest.warns(UserWarning, match="step 0"), pytest.raises(NonFiniteTrainingError, match=message):
        trainer.fit(faulty_task(tiny_model, nan_loss_steps={0, 1, 2}), make_data())
    assert watcher.changed == [False]  # the run stopped inside the second step
    assert guard.skipped_steps == 2


def test_fp16_scaler_overflow_is_not_counted_but_a_non_finite_loss_is(tiny_model, tmp_path):
    # CPU `precision="16-mixed"` falls back to bf16 (no GradScaler): pass fp16 AMP as a plugin. A huge
    # initial scale makes the fp16 gradients overflow on every step, which the GradScaler skips.
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)
    guard, watcher = NonFiniteGuard(max_consecutive=2), WeightWatcher()
    trainer = make_trainer(
        tmp_path,
        [guard, watcher],
        max_steps=3,
        limit_val_batches=0,
        plugins=[MixedPrecision("16-mixed", "cpu", scaler=scaler)],
    )
    # The SAR structure term is NaN under fp16 autocast (eps underflow): use the edge term here.
    loss = Stage3Loss(
        bands=BANDS, use_lpips=False, sar_objective="unbounded", structure_weight=0.0, edge_weight=1.0
    )
    with pytest.warns(UserWarning, match=r"non-finite loss at optimizer step 1: step skipped"):
        trainer.fit(faulty_task(tiny_model, nan_loss_steps={1}, loss=loss), make_data())
    assert watcher.changed == [False, False, False]
    assert scaler.get_scale() == 2.0**57  # three overflow skips
    assert (guard.skipped_steps, guard.consecutive) == (1, 0)


def test_max_consecutive_must_be_positive():
    with pytest.raises(ValueError, match="max_consecutive must be >= 1, got 0"):
        NonFiniteGuard(max_consecutive=0)
