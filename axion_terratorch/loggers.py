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

from axion_terratorch.constants import PathLike

#: Checkpoint folder under the root, for ``ModelCheckpoint`` without ``dirpath``.
CHECKPOINT_FOLDER = "checkpoints"


class FollowsRunRoot:
    """What :func:`apply_run_root` needs of a logger: whether it follows the root, and its copy there.

    The loggers below pass their ``save_dir`` through :meth:`follow_root`; :meth:`at_root` rebuilds
    them as the Lightning logger they extend (``logger_class``) with the same settings.
    """

    #: The Lightning logger rebuilt by :meth:`at_root`.
    logger_class: type[Logger]

    def follow_root(self, save_dir: PathLike | None, settings: dict[str, Any]) -> PathLike:
        """Remember ``settings`` and whether ``save_dir`` is left to the root; the folder to start in."""
        self.settings = settings
        self.follows_root = save_dir is None
        return os.curdir if save_dir is None else save_dir

    def at_root(self, root: PathLike) -> Logger:
        """The same logger writing under ``root``."""
        return self.logger_class(root, **self.settings)


class RunCSVLogger(FollowsRunRoot, CSVLogger):
    """Lightning's ``CSVLogger``; without ``save_dir`` it writes to ``<default_root_dir>/<name>``.

    Args:
        save_dir: Folder of the logs; ``None``: the trainer's ``default_root_dir``, set when the run
            starts (by :func:`apply_run_root`).
        name: Sub-folder of the logs.
        **kwargs: The other arguments of Lightning's ``CSVLogger`` (``version``, ``prefix``,
            ``flush_logs_every_n_steps``), configurable as its own.
    """

    logger_class = CSVLogger

    def __init__(self, save_dir: PathLike | None = None, name: str = "csv", **kwargs: Any) -> None:
        super().__init__(self.follow_root(save_dir, {"name": name, **kwargs}), name=name, **kwargs)


class RunTensorBoardLogger(FollowsRunRoot, TensorBoardLogger):
    """Lightning's ``TensorBoardLogger``; without ``save_dir`` it writes to ``<default_root_dir>/<name>``.

    Args:
        save_dir: Folder of the logs; ``None``: the trainer's ``default_root_dir`` (see
            :class:`RunCSVLogger`).
        name: Sub-folder of the logs.
        **kwargs: The other arguments of Lightning's ``TensorBoardLogger`` (``version``,
            ``log_graph``, ``default_hp_metric``, ``prefix``, ``sub_dir``), configurable as its own.
    """

    logger_class = TensorBoardLogger

    def __init__(self, save_dir: PathLike | None = None, name: str = "tensorboard", **kwargs: Any) -> None:
        super().__init__(self.follow_root(save_dir, {"name": name, **kwargs}), name=name, **kwargs)


def apply_run_root(trainer: Any) -> None:
    """Put root-following loggers and ``dirpath``-less checkpoints under ``trainer.default_root_dir``.

    Call it before the run creates its folders (Lightning creates the loggers' folders in its setup
    hook); :class:`~axion_terratorch.SARGroundingTask` does, from ``configure_callbacks``.
    """
    root = trainer.default_root_dir
    loggers = list(trainer.loggers)
    if any(isinstance(logger, FollowsRunRoot) and logger.follows_root for logger in loggers):
        trainer.loggers = [
            logger.at_root(root) if isinstance(logger, FollowsRunRoot) and logger.follows_root else logger
            for logger in loggers
        ]
    for callback in trainer.checkpoint_callbacks:
        if callback.dirpath is None:
            callback.dirpath = os.path.join(root, CHECKPOINT_FOLDER)
