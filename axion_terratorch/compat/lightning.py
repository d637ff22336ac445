"""Lightning internals: the fit loop's batch counters and the filesystem helper.

Checked with lightning 2.6.6. Upstream paths are relative to ``lightning/``.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from axion_terratorch.compat import attribute, module

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
