"""A tiny real task, synthetic data and a quiet CPU trainer for the callback tests."""

from typing import Any

import lightning.pytorch as pl

from axion_terratorch import SARGroundingTask
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import TerraMindResidualGrounding

BANDS = ("B02", "B03", "B04", "B08")


def make_task(
    model: TerraMindResidualGrounding, cls: type[SARGroundingTask] = SARGroundingTask, **kwargs: Any
) -> SARGroundingTask:
    """A task with LPIPS off (its backbone weights need a download)."""
    kwargs.setdefault("loss", Stage3Loss(bands=BANDS, use_lpips=False))
    kwargs.setdefault("metrics", GroundingMetrics(bands=BANDS, lpips=False))
    return cls(model, **kwargs)


def make_data(**kwargs: object) -> SyntheticGroundingDataModule:
    """Synthetic 32 px tiles: 6 training, 2 validation, batches of 2."""
    args = {"num_train": 6, "num_val": 2, "num_test": 2, "tile_size": 32, "bands": BANDS, "batch_size": 2}
    return SyntheticGroundingDataModule(**{**args, **kwargs})


def make_trainer(tmp_path, callbacks: list[pl.Callback], **kwargs: object) -> pl.Trainer:
    """A quiet CPU trainer writing under ``tmp_path``."""
    args = {
        "accelerator": "cpu",
        "devices": 1,
        "default_root_dir": tmp_path,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    return pl.Trainer(callbacks=callbacks, **{**args, **kwargs})
