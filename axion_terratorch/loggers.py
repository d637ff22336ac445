"""Loggers that live under the run's root, ``trainer.default_root_dir``.

Lightning's loggers need a ``save_dir`` and checkpoints a ``dirpath``; a config that spells them out
fixes them per file, so ``--trainer.default_root_dir`` moves nothing and two runs of configs overlaid
on one base (``-c A.yaml -c configs/data/X.yaml``) write into one folder. The shipped configs name
only the root: :class:`RunCSVLogger` and :class:`RunTensorBoardLogger` without ``save_dir`` and
``ModelCheckpoint`` without ``dirpath``. :func:`apply_run_root` (called by
:class:`~axion_terratorch.SARGroundingTask` before the run creates any folder) places them::

    <default_root_dir>/csv/version_<n>/metrics.csv
    <default_root_dir>/tensorboard/version_<n>/
    <default_root_dir>/checkpoints/*.ckpt

A ``save_dir`` or ``dirpath`` given explicitly is kept.
"""

from __future__ import annotations

import os
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

PathLike = str | os.PathLike[str]
#: Checkpoint folder under the root, for ``ModelCheckpoint`` without ``dirpath``.
CHECKPOINT_FOLDER = "checkpoints"


class RunCSVLogger(CSVLogger):
    """Lightning's ``CSVLogger``; without ``save_dir`` it writes to ``<default_root_dir>/<name>``.

    Args:
        save_dir: Folder of the logs; ``None``: the trainer's ``default_root_dir``, set when the run
            starts (by :func:`apply_run_root`).
        name: Sub-folder of the logs.
        version: Version folder (default: the next free ``version_<n>``).
        prefix: Prefix of the metric keys.
        flush_logs_every_n_steps: Rows written to disk every this many steps.
    """

    def __init__(
        self,
        save_dir: PathLike | None = None,
        name: str = "csv",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        self.settings: dict[str, Any] = {
            "name": name,
            "version": version,
            "prefix": prefix,
            "flush_logs_every_n_steps": flush_logs_every_n_steps,
        }
        self.follows_root = save_dir is None
        super().__init__(os.curdir if save_dir is None else save_dir, **self.settings)

    def at_root(self, root: PathLike) -> Logger:
        """The same logger writing under ``root``."""
        return CSVLogger(root, **self.settings)


class RunTensorBoardLogger(TensorBoardLogger):
    """Lightning's ``TensorBoardLogger``; without ``save_dir`` it writes to ``<default_root_dir>/<name>``.

    Args:
        save_dir: Folder of the logs; ``None``: the trainer's ``default_root_dir`` (see
            :class:`RunCSVLogger`).
        name: Sub-folder of the logs.
        version: Version folder (default: the next free ``version_<n>``).
        log_graph: Add the model graph.
        default_hp_metric: Log a placeholder ``hp_metric``.
        prefix: Prefix of the metric keys.
        sub_dir: Sub-folder of the version folder.
    """

    def __init__(
        self,
        save_dir: PathLike | None = None,
        name: str = "tensorboard",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: PathLike | None = None,
    ) -> None:
        self.settings: dict[str, Any] = {
            "name": name,
            "version": version,
            "log_graph": log_graph,
            "default_hp_metric": default_hp_metric,
            "prefix": prefix,
            "sub_dir": sub_dir,
        }
        self.follows_root = save_dir is None
        super().__init__(os.curdir if save_dir is None else save_dir, **self.settings)

    def at_root(self, root: PathLike) -> Logger:
        """The same logger writing under ``root``."""
        return TensorBoardLogger(root, **self.settings)


def apply_run_root(trainer: Any) -> None:
    """Put root-following loggers and ``dirpath``-less checkpoints under ``trainer.default_root_dir``.

    Call it before the run creates its folders (Lightning creates the loggers' folders in its setup
    hook); :class:`~axion_terratorch.SARGroundingTask` does, from ``configure_callbacks``.
    """
    root = trainer.default_root_dir
    loggers = list(trainer.loggers)
    if any(getattr(logger, "follows_root", False) for logger in loggers):
        trainer.loggers = [
            logger.at_root(root) if getattr(logger, "follows_root", False) else logger for logger in loggers
        ]
    for callback in trainer.checkpoint_callbacks:
        if callback.dirpath is None:
            callback.dirpath = os.path.join(root, CHECKPOINT_FOLDER)
