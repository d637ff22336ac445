"""The task of a terratorch/LightningCLI config, built for a memory measurement (offline, as the CLI builds it)."""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Mapping
from typing import Any

from torch import nn

from axion_terratorch.config import import_object, instantiate, read_yaml
from axion_terratorch.constants import DEFAULT_BANDS

#: Model arguments of a measurement: no download, no local weight file; the generative model's
#: zero-initialised decoder layers get stand-in weights (same sizes, and gradients flow as with real ones).
OFFLINE_MODEL_ARGS: dict[str, Any] = {"pretrained": False, "ckpt_path": None, "stand_in_decoder": True}
#: Loss and metrics arguments turned off for a measurement (LPIPS's torchvision backbone is a download).
OFFLINE_LOSS_ARGS: dict[str, Any] = {"lpips_pretrained_backbone": False}
#: The task's default metrics, written out so that :data:`OFFLINE_LOSS_ARGS` can reach them.
DEFAULT_METRICS = "axion_terratorch.metrics.GroundingMetrics"


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a terratorch/LightningCLI YAML config (:func:`~axion_terratorch.config.read_yaml`).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid YAML.
        TypeError: If it holds no mapping or has no ``model`` section (a mapping).
    """
    config = read_yaml(path, "--config")
    if not isinstance(config.get("model"), dict):
        msg = f"--config {path}: no `model:` section (class_path / init_args of the task)"
        raise TypeError(msg)
    return config


def build_task(
    model_section: Mapping[str, Any], model_overrides: Mapping[str, Any] | None = None, offline: bool = True
) -> nn.Module:
    """Build the task of a config's ``model:`` section as LightningCLI does (jsonargparse).

    Args:
        model_section: ``{"class_path": ..., "init_args": {...}}`` of the task.
        model_overrides: Values for ``init_args.model.init_args`` (e.g. ``timesteps``); keys the
            model class does not accept raise.
        offline: Set :data:`OFFLINE_MODEL_ARGS` on the model and :data:`OFFLINE_LOSS_ARGS` on the loss
            and the metrics where their classes accept them (sizes do not depend on weight values).
            A task that takes ``metrics`` but has none configured gets :data:`DEFAULT_METRICS` on
            the model's bands, what :class:`~axion_terratorch.tasks.SARGroundingTask` builds by
            default, with those arguments.

    Returns:
        The instantiated task (a torchgeo ``BaseTask``).

    Raises:
        ValueError: If an override names an argument the model does not take, or jsonargparse
            rejects the section (its message names the key).
    """
    from torchgeo.trainers import BaseTask  # heavy import, here only

    section = copy.deepcopy(dict(model_section))
    init_args = section.setdefault("init_args", {})
    model_node = init_args.get("model")
    for key, value in (model_overrides or {}).items():
        if not _set_arg(model_node, key, value):
            msg = f"model.init_args.model does not take {key!r} (class {_class_path(model_node)!r})"
            raise ValueError(msg)
    if offline:
        for key, value in OFFLINE_MODEL_ARGS.items():
            _set_arg(model_node, key, value)
        if init_args.get("metrics") is None and _takes(section, "metrics"):
            bands = ((model_node or {}).get("init_args") or {}).get("bands", list(DEFAULT_BANDS))
            init_args["metrics"] = {"class_path": DEFAULT_METRICS, "init_args": {"bands": list(bands)}}
        for key, value in OFFLINE_LOSS_ARGS.items():
            _set_arg(init_args.get("loss"), key, value)
            _set_arg(init_args.get("metrics"), key, value)
    return instantiate(section, BaseTask, "model")


def _class_path(node: Any) -> str | None:
    return node.get("class_path") if isinstance(node, dict) else None


def _takes(node: Any, key: str) -> bool:
    """Whether ``node`` is a class_path dict whose class's ``__init__`` has an argument ``key``."""
    class_path = _class_path(node)
    return class_path is not None and key in inspect.signature(import_object(class_path).__init__).parameters


def _set_arg(node: Any, key: str, value: Any) -> bool:
    """Set ``node["init_args"][key]`` if ``node`` is a class_path dict whose class takes ``key``."""
    if not _takes(node, key):
        return False
    node.setdefault("init_args", {})[key] = value
    return True
