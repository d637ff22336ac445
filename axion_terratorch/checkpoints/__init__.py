"""The checkpoint lifecycle: rebuild a trained model from a checkpoint, pick a run's best, export it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axion_terratorch.lazy import lazy_attributes

__all__ = [
    "CheckpointError",
    "RankedCheckpoint",
    "export_checkpoint",
    "load_export",
    "load_model",
    "rank_checkpoints",
    "read_checkpoint",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "CheckpointError": "axion_terratorch.checkpoints.loading",
        "RankedCheckpoint": "axion_terratorch.checkpoints.selection",
        "export_checkpoint": "axion_terratorch.checkpoints.export",
        "load_export": "axion_terratorch.checkpoints.export",
        "load_model": "axion_terratorch.checkpoints.loading",
        "rank_checkpoints": "axion_terratorch.checkpoints.selection",
        "read_checkpoint": "axion_terratorch.checkpoints.loading",
    },
)

if TYPE_CHECKING:
    from axion_terratorch.checkpoints.export import export_checkpoint, load_export
    from axion_terratorch.checkpoints.loading import CheckpointError, load_model, read_checkpoint
    from axion_terratorch.checkpoints.selection import RankedCheckpoint, rank_checkpoints
