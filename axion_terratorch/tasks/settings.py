"""Checks of what :class:`~axion_terratorch.tasks.SARGroundingTask` is given: bands of its loss,
metrics and data against the model's, and trainer settings."""

from __future__ import annotations

from typing import Any

from torch import nn


def on_model_bands(name: str, module: nn.Module, bands: tuple[str, ...]) -> nn.Module:
    """``module`` computing on the model's ``bands``: given them when it follows the model
    (``follows_model_bands``, built without ``bands``), else checked against them.

    Raises:
        ValueError: If ``module`` is configured for other bands; the message names both lists.
    """
    if getattr(module, "follows_model_bands", False):
        module.use_bands(bands)
        return module
    own = getattr(module, "bands", None)
    if own is not None and tuple(own) != bands:
        msg = (
            f"{name} is configured for bands {list(own)} but the model for {list(bands)}; "
            f"leave {name}.init_args.bands out to use the model's"
        )
        raise ValueError(msg)
    return module


def check_data_bands(datamodule: Any, bands: tuple[str, ...]) -> None:
    """Refuse a data module whose optical ``bands`` differ from the model's ``bands``, naming both lists.

    Data modules without a ``bands`` attribute (e.g. terratorch's generic ones) are not checked.
    """
    data_bands = getattr(datamodule, "bands", None)
    if data_bands is not None and tuple(data_bands) != bands:
        msg = (
            f"the data module reads the optical bands {list(data_bands)} but the model takes "
            f"{list(bands)}: give both the same bands, in the same order (data: tiles.bands "
            "or bands; model: bands)"
        )
        raise ValueError(msg)


def check_trainer_settings(trainer: Any) -> None:
    """Refuse trainer settings that cannot work together; the message names the keys."""
    if trainer.max_steps >= 0 and trainer.min_steps and trainer.min_steps > trainer.max_steps:
        msg = (
            f"trainer.min_steps ({trainer.min_steps}) is larger than trainer.max_steps ({trainer.max_steps}):"
            " early stopping could never act and the run could not reach min_steps"
        )
        raise ValueError(msg)
