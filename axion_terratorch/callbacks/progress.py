"""The progress bar of a run bounded by steps only: ``Epoch 3`` instead of Lightning's ``Epoch 3/-2``."""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import Callback, RichProgressBar

from axion_terratorch.compat.lightning import DescribedRichProgressBar, rich_bar_arguments


class StepProgressBar(DescribedRichProgressBar):
    """Lightning's rich progress bar labelling epochs of a step-bounded run sensibly.

    With ``trainer.max_epochs: -1`` (the run stops at ``max_steps``) Lightning's bar reads
    ``Epoch 3/-2``; this one reads ``Epoch 3 (max_steps 400)``. Bounded runs read as Lightning's.
    Takes :class:`~lightning.pytorch.callbacks.RichProgressBar`'s arguments.
    """

    def train_description(self, current_epoch: int) -> str | None:
        trainer = self.trainer
        if trainer.max_epochs is not None and trainer.max_epochs >= 0:
            return None
        text = f"Epoch {current_epoch}"
        if trainer.max_steps > 0:
            text += f" (max_steps {trainer.max_steps})"
        return f"{text:{len(self.validation_description)}}"  # as Lightning pads it: no flicker


def step_progress_bar(trainer: Any) -> list[Callback]:
    """``[StepProgressBar]`` with the settings of the trainer's default rich bar, for a run without an
    epoch bound; ``[]`` otherwise (another bar, no bar, or ``max_epochs`` set).

    Returned from a task's ``configure_callbacks``, it replaces that bar (Lightning lets a module's
    callback override the trainer's callback of its parent class).
    """
    bar = getattr(trainer, "progress_bar_callback", None)
    if type(bar) is not RichProgressBar or (trainer.max_epochs is not None and trainer.max_epochs >= 0):
        return []
    return [StepProgressBar(*rich_bar_arguments(bar))]
