"""Lightning internals: the fit loop's batch counters and the filesystem helper.

Checked with lightning 2.6.6. Upstream paths are relative to ``lightning/``.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import RichProgressBar

from axion_terratorch.compat import attribute, module, moved

LIBRARY = "lightning"
_PROGRESS = "fit_loop.epoch_loop.batch_progress"


def batches_processed_in_epoch(trainer: pl.Trainer) -> int:
    """Training batches of the current epoch whose step has run, restored on resume.

    Reads ``trainer.fit_loop.epoch_loop.batch_progress.current.processed``
    (``pytorch/loops/training_epoch_loop.py``, ``_BatchProgress``; lightning 2.6.6): after resuming
    from a mid-epoch checkpoint it is the number of batches that epoch already trained on.
    """
    return int(attribute(LIBRARY, trainer, f"{_PROGRESS}.current.processed", "Trainer"))


def batches_ready(trainer: pl.Trainer) -> int:
    """Training batches fetched over the whole run before this one, restored on resume.

    Reads ``trainer.fit_loop.epoch_loop.batch_progress.total.ready``
    (``pytorch/loops/training_epoch_loop.py``; lightning 2.6.6). In ``on_after_batch_transfer`` of a
    training batch it is the batch's global index (the counter is raised after the transfer).
    """
    return int(attribute(LIBRARY, trainer, f"{_PROGRESS}.total.ready", "Trainer"))


def filesystem(path: str, **storage_options: Any) -> Any:
    """The fsspec filesystem of ``path``.

    Reads ``get_filesystem`` of ``fabric/utilities/cloud_io.py`` (lightning 2.6.6), the helper
    Lightning's own checkpoint IO uses.
    """
    name = "lightning.fabric.utilities.cloud_io"
    return attribute(LIBRARY, module(LIBRARY, name), "get_filesystem", name)(path, **storage_options)


def rich_bar_arguments(bar: RichProgressBar) -> tuple[Any, ...]:
    """``(refresh_rate, leave, theme, console_kwargs)``: the arguments ``bar`` was built with.

    Reads ``_leave`` and ``_console_kwargs`` of ``pytorch/callbacks/progress/rich_progress.py``
    (lightning 2.6.6), which keeps them private.
    """
    owner = "RichProgressBar"
    return (
        bar.refresh_rate,
        attribute(LIBRARY, bar, "_leave", owner),
        bar.theme,
        attribute(LIBRARY, bar, "_console_kwargs", owner),
    )


class DescribedRichProgressBar(RichProgressBar):
    """Lightning's rich bar whose training description a subclass gives (:meth:`train_description`).

    Overrides ``_get_train_description`` of ``pytorch/callbacks/progress/progress_bar.py``
    (lightning 2.6.6); the test of this module fails if Lightning renames it.
    """

    def train_description(self, current_epoch: int) -> str | None:
        """The text before the bar, or ``None`` for Lightning's own."""
        return None

    def _get_train_description(self, current_epoch: int) -> str:
        text = self.train_description(current_epoch)
        return super()._get_train_description(current_epoch) if text is None else text


def return_no_predictions(trainer: pl.Trainer) -> None:
    """Make ``trainer.predict`` keep no predictions (what ``Trainer.predict(return_predictions=False)``
    does), for a run whose writer callback consumes them.

    Sets ``trainer.predict_loop.return_predictions`` (``pytorch/loops/prediction_loop.py``;
    lightning 2.6.6), the setting ``Trainer.predict`` itself writes: a callback's ``setup`` runs after it.
    """
    loop = attribute(LIBRARY, trainer, "predict_loop", "Trainer")
    if not hasattr(loop, "return_predictions"):
        raise moved(LIBRARY, "Trainer.predict_loop.return_predictions")
    loop.return_predictions = False


def running_cli() -> Any:
    """The ``LightningCLI`` whose construction is on the call stack, or ``None``.

    Lightning gives a model or data module no handle on the CLI that builds it: the stack is
    walked for a frame whose ``self`` is a ``LightningCLI`` with its ``config`` parsed (set in
    ``LightningCLI.__init__`` before ``instantiate_classes``; lightning 2.6.6).
    """
    cli_module = sys.modules.get("lightning.pytorch.cli")
    if cli_module is None:
        return None
    frame = inspect.currentframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, cli_module.LightningCLI) and hasattr(candidate, "config"):
            return candidate
        frame = frame.f_back
    return None
