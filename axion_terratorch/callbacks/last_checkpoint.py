"""``last.ckpt`` after every validation and at the end of training, whatever the monitored score."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.trainer.states import TrainerFn


class LastCheckpoint(Checkpoint):
    """Write ``<dirpath>/last.ckpt`` after every validation of ``fit`` and when training ends.

    The end is the optimizer step that reaches ``trainer.max_steps`` (saved before any validation of
    that step, and again after it), or ``on_train_end`` for other stops.

    Since Lightning 2.6, ``ModelCheckpoint(monitor=..., save_last=True)`` writes ``last.ckpt`` only
    when it saves a new best checkpoint, so after a metric that peaked early ``last.ckpt`` is that
    early step and resuming from it silently redoes the steps after it. This callback writes the true
    last state instead; keep ``save_last`` off on the monitored ``ModelCheckpoint`` (one writer per
    file). As a :class:`~lightning.pytorch.callbacks.Checkpoint` it runs after the other callbacks
    (Lightning orders checkpoint callbacks last), so the states it saves (early stopping, skip
    counters) are those of the finished validation; ``--ckpt_path last`` finds the file when a
    ``ModelCheckpoint`` writes into the same folder.

    Like every checkpoint of :class:`~axion_terratorch.SARGroundingTask`, ``last.ckpt`` holds what
    training changed and a reference to the frozen base (``checkpoint_weights: trained``, the
    default) or every weight (``full``): docs/training.md.

    Args:
        dirpath: Folder of ``last.ckpt`` (default: ``<trainer.default_root_dir>/checkpoints``).
        filename: File name without ``.ckpt``.

    Example::

        trainer:
          callbacks:
            - class_path: lightning.pytorch.callbacks.ModelCheckpoint   # the best, no save_last
              init_args: {monitor: val/psnr, mode: max}
            - class_path: axion_terratorch.callbacks.LastCheckpoint     # <default_root_dir>/checkpoints
    """

    def __init__(self, dirpath: str | os.PathLike[str] | None = None, filename: str = "last") -> None:
        super().__init__()
        if not filename or Path(filename).name != filename:
            msg = f"filename must be a plain file name without a folder, got {filename!r}"
            raise ValueError(msg)
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.filename = filename
        self.saved_step: int | None = None

    def path(self, trainer: pl.Trainer) -> Path:
        """Where ``last.ckpt`` is written."""
        folder = (
            Path(trainer.default_root_dir) / "checkpoints" if self.dirpath is None else Path(self.dirpath)
        )
        return folder / f"{self.filename}.ckpt"

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Save when the batch reached ``max_steps``: the state of a run that stops mid-epoch, as
        ``every_n_train_steps`` checkpoints hold it (a save at the end of training would record the
        epoch as finished, and a resumed run would start the next epoch's order instead)."""
        if 0 <= trainer.max_steps <= trainer.global_step:
            self._save(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save after each validation of ``fit`` (not the sanity check)."""
        if not trainer.sanity_checking:
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save the final state unless it was saved at this step already (other stops: ``max_time``)."""
        if self.saved_step != trainer.global_step:
            self._save(trainer)

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.fast_dev_run or trainer.state.fn != TrainerFn.FITTING:
            return
        # optimizer and loop state: resumable; the task decides the weights (checkpoint_weights)
        trainer.save_checkpoint(self.path(trainer), weights_only=False)
        self.saved_step = trainer.global_step
