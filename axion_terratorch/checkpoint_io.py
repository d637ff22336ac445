"""Checkpoint writes that are atomic on local disks, for Lightning's ``trainer.plugins``."""

from __future__ import annotations

import os
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.pytorch.plugins.io import TorchCheckpointIO
from typing_extensions import override

from axion_terratorch.atomic import atomic_path, remove_stale_temporaries
from axion_terratorch.compat.lightning import filesystem


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``TorchCheckpointIO`` with a crash-safe write to local paths.

    Lightning's own write goes through an fsspec transaction that stages the file in the system's
    temporary folder and moves it into place: across file systems the move is a copy, so a crash
    during it leaves a truncated checkpoint (a corrupt ``last.ckpt``). Here the checkpoint is written
    beside its destination, flushed to disk and renamed over it in one step: the previous file stays
    intact until the new one is complete, and the temporary file a killed process leaves behind is
    removed by the next save of the same checkpoint. A failed write (full disk, no permission) raises an
    ``OSError`` naming the path. Remote paths (``s3://`` ...) keep Lightning's behaviour.

    Use it in a run config::

        trainer:
          plugins:
            - class_path: axion_terratorch.checkpoint_io.AtomicCheckpointIO
    """

    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike[str], storage_options: Any | None = None
    ) -> None:
        """Write ``checkpoint`` to ``path`` atomically (local paths)."""
        if not isinstance(filesystem(path), LocalFileSystem) or storage_options is not None:
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        remove_stale_temporaries(path)  # left by a process killed mid-write
        try:
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)
        except OSError as error:
            msg = f"could not write checkpoint {path}: {error}; the previous file (if any) is unchanged"
            raise OSError(error.errno, msg) from error
