"""What :class:`~axion_terratorch.tasks.SARGroundingTask` puts in its checkpoints and checks when it
loads one: the configs of its modules, and (``checkpoint_weights: trained``) the frozen base left out
and rebuilt (:mod:`~axion_terratorch.models.base_reference`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from lightning.pytorch import LightningModule
from lightning.pytorch.cli import SaveConfigCallback
from torch import nn

from axion_terratorch.init_config import init_config
from axion_terratorch.models.base_reference import (
    CHECKPOINT_KEY,
    complete_other_frozen,
    complete_state_dict,
    saved_reference,
)
from axion_terratorch.state_dict_mismatch import config_differences, shape_mismatches, summary

logger = logging.getLogger(__name__)

#: Constructor arguments that are modules: never saved as live modules; their configs are recorded instead.
MODULE_ARGS = ("model", "loss", "metrics")
#: Prefix of the model's weights in the task's state dict.
MODEL_PREFIX = "model."


def record_module_configs(
    hparams: MutableMapping[str, Any], modules: Mapping[str, nn.Module], trainer: Any = None
) -> None:
    """Put the config of each of the task's ``modules`` (by argument name) in ``hparams``, so every
    checkpoint can be rebuilt with ``load_from_checkpoint(path)`` or ``load_model(path)``.

    A module's config is the one in the run's LightningCLI configuration when ``trainer`` has one
    (``terratorch fit``: what the YAML says), else the one the module records of itself
    (:class:`~axion_terratorch.init_config.RecordsInitArgs`: built in Python). Given the ``trainer``
    (the task's ``setup``), a model without either is named in a warning, as its checkpoints need the
    run's YAML to be rebuilt.
    """
    from_cli = _cli_module_configs(trainer) if trainer is not None else {}
    for name, module in modules.items():
        config = from_cli.get(name) or init_config(module)
        if config is not None:
            hparams[name] = config
        elif name == "model" and trainer is not None:
            logger.warning(
                "%s records no config: checkpoints of this task need the run's YAML to be rebuilt "
                "(load_model(path, config=...)); pass the model of the task to load_from_checkpoint",
                type(module).__name__,
            )


def _cli_module_configs(trainer: Any) -> dict[str, dict[str, Any]]:
    """The configs of :data:`MODULE_ARGS` in the run's LightningCLI configuration, if there is one."""
    for callback in trainer.callbacks:
        if not isinstance(callback, SaveConfigCallback):
            continue
        task_config = callback.config.get("model")
        init_args = task_config.get("init_args") if task_config is not None else None
        configs = {}
        for name in MODULE_ARGS:
            value = init_args.get(name) if init_args is not None else None
            value = value.as_dict() if hasattr(value, "as_dict") else value
            if isinstance(value, Mapping) and "class_path" in value:
                configs[name] = dict(value)
        return configs
    return {}


def complete_loaded_checkpoint(
    task: LightningModule, model: nn.Module, checkpoint: dict[str, Any], where: str
) -> None:
    """Rebuild the frozen base of a trained-only ``checkpoint`` of ``task`` (whose model is ``model``;
    ``where`` names the file in messages), and refuse a checkpoint of another model configuration
    naming the keys.

    Raises:
        BaseMismatchError: If the checkpoint was trained on another frozen base (variant or
            weights); one line naming both.
        ValueError: If a weight has another shape than in the task's model; the message names
            the config keys that differ from the checkpoint's ``hyper_parameters`` and the tensors.
    """
    model_config = task.hparams.get("model")
    saved = saved_reference(checkpoint)
    if saved is not None:
        state = checkpoint["state_dict"]
        # a random base is rebuilt from this run's own model config, never from the file's
        complete_state_dict(state, model, saved, model_config, MODEL_PREFIX, where)
        complete_other_frozen(state, task, checkpoint[CHECKPOINT_KEY], MODEL_PREFIX, where)
    mismatched = shape_mismatches(task.state_dict(), checkpoint.get("state_dict") or {})
    if not mismatched:
        return
    saved = (checkpoint.get("hyper_parameters") or {}).get("model")
    differences = config_differences(saved, model_config, "model") if saved else []
    keys = f"config keys {summary(differences)}" if differences else f"weights {summary(mismatched)}"
    msg = (
        f"the checkpoint was trained with another model configuration than this run's: {keys}. "
        "Resume with the config it was trained with (its hyper_parameters), or start a new run"
    )
    raise ValueError(msg)
