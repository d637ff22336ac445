"""End-of-epoch report of the bad tiles skipped with ``on_bad_tile: skip``."""

from __future__ import annotations

import logging

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn

logger = logging.getLogger(__name__)


class BadTileReport(Callback):
    """Warn at the end of each training and validation epoch how many bad tiles were skipped.

    The data module counts them (``bad_tile_counts``, per split) from the samples' ``bad_tiles``
    key and names this callback in its ``configure_callbacks()`` when ``on_bad_tile`` is ``skip``;
    ``SARGroundingTask.configure_callbacks`` hands it to the trainer. With another task, list it
    under ``trainer.callbacks``.
    """

    def _report(self, trainer: Trainer, split: str) -> None:
        counts = getattr(trainer.datamodule, "bad_tile_counts", None)
        if not counts or not counts.get(split):
            return
        rank_zero_warn(
            f"{counts[split]} bad tiles were skipped in this {split} epoch (the warnings name them)",
            category=UserWarning,
        )
        counts[split] = 0

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Report the training epoch."""
        self._report(trainer, "train")

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Report the validation epoch."""
        self._report(trainer, "val")

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Report the test epoch."""
        self._report(trainer, "test")
