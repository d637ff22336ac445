"""Rebuild a trained grounding model from a Lightning checkpoint of ``SARGroundingTask``.

``terratorch fit`` (LightningCLI) stores the task's ``model`` argument as its ``class_path`` config in
the checkpoint's ``hyper_parameters``, and its weights in ``state_dict`` under ``model.``. A full
checkpoint (``checkpoint_weights: full``) holds every weight: the model is rebuilt from the config
without downloading or reading the base weights again (``pretrained=False``, ``ckpt_path=None``) and
then given them. A trained-only checkpoint (the default for LoRA runs) holds what training changed
and a reference to its frozen base: the model is rebuilt from the base's real source (pretrained
weights, ``ckpt_path``, or the recorded random state), checked against the reference's hash and then
given the trained weights (:func:`build_for_checkpoint`, :func:`complete_base`).
Checkpoints are read with ``torch.load(weights_only=True)``: tensors and plain containers only.

A checkpoint's model config is untrusted too: jsonargparse imports every ``class_path`` (and every
dotted string given for a class-typed argument) it names, so :func:`check_model_config` refuses a
config naming anything outside :data:`ALLOWED_PACKAGES` before anything is imported. A YAML the user
passes explicitly (``--config``) is trusted and may name other classes.
"""

from __future__ import annotations

import copy
import logging
import pickle
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from axion_terratorch.config import instantiate
from axion_terratorch.constants import PathLike
from axion_terratorch.models.base_reference import (
    BaseMismatchError,
    complete_state_dict,
    rebuild,
    saved_reference,
)
from axion_terratorch.state_dict_mismatch import shape_mismatches, summary

logger = logging.getLogger(__name__)

#: Prefix of the model's weights in the task's state dict.
MODEL_PREFIX = "model."


#: Top-level packages whose classes a checkpoint's or export's model config may name.
ALLOWED_PACKAGES: tuple[str, ...] = ("axion_terratorch", "terratorch", "torch")
#: A string jsonargparse would import when given for a class-typed argument: ``pkg.module.Name``.
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class CheckpointError(ValueError):
    """A checkpoint or config cannot be read or does not describe a grounding model."""


def check_model_config(config: Mapping[str, Any], source: str) -> None:
    """Refuse a model config that names a class outside :data:`ALLOWED_PACKAGES`, importing nothing.

    Every ``class_path`` in the nested ``init_args`` (and every other dotted ``pkg.Name`` string, which
    jsonargparse imports when an argument takes a class) must lie under one of the allowed packages,
    or be the bare name of a class of :mod:`axion_terratorch.models`.

    jsonargparse's own import-path policy (``set_parsing_settings``) is process-wide and cannot be
    undone, which would also restrict a training run in the same process; hence this check.

    Raises:
        CheckpointError: Naming ``source``, the key and the refused class path.
    """
    from axion_terratorch import models

    model_names = {name for name, value in vars(models).items() if isinstance(value, type)}
    for where, value in _class_paths(config, "model"):
        dotted = _IMPORT_PATH.fullmatch(value) is not None
        if (dotted and value.partition(".")[0] in ALLOWED_PACKAGES) or value in model_names:
            continue
        msg = (
            f"{source}: {where} names {value!r}, which is not a class of {', '.join(ALLOWED_PACKAGES)}; "
            "refused without importing it (a checkpoint may not run code). "
            "If you trust the file, pass the run's YAML with --config"
        )
        raise CheckpointError(msg)


def _class_paths(node: object, where: str) -> Iterator[tuple[str, str]]:
    """``(key path, value)`` of every ``class_path`` and dotted import-path string under ``node``."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "class_path":
                yield f"{where}.class_path", value if isinstance(value, str) else repr(value)
            else:
                yield from _class_paths(value, f"{where}.{key}")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _class_paths(value, f"{where}[{index}]")
    elif isinstance(node, str) and _IMPORT_PATH.fullmatch(node.strip()):
        yield where, node.strip()


def read_checkpoint(path: PathLike) -> dict[str, Any]:
    """Load a checkpoint file safely (``weights_only=True``), memory-mapped, on the CPU.

    Raises:
        CheckpointError: If the file is missing, unreadable, or holds pickled objects beyond tensors
            and plain containers; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"checkpoint not found: {path}"
        raise CheckpointError(msg)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        msg = (
            f"{path} cannot be loaded safely (torch.load(weights_only=True)): it holds objects other than "
            f"tensors and plain containers ({err}). Re-save it from a trusted session or export it."
        )
        raise CheckpointError(msg) from err
    except (OSError, RuntimeError) as err:
        msg = f"cannot read checkpoint {path}: {err}"
        raise CheckpointError(msg) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        msg = f"{path} is not a Lightning checkpoint (no 'state_dict')"
        raise CheckpointError(msg)
    return checkpoint


#: Model arguments added after checkpoints were written, by class name: the value that reproduces what
#: such a checkpoint was trained with. ``terratorch fit`` saves every argument, defaults included, so
#: a checkpoint's config without the argument predates it (the class default may have changed since).
LEGACY_INIT_ARGS: dict[str, dict[str, Any]] = {"TerraMindResidualGrounding": {"decoder": "fcn"}}


def with_legacy_arguments(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with :data:`LEGACY_INIT_ARGS` filled in where it does not name them."""
    config = copy.deepcopy(dict(config))
    legacy = LEGACY_INIT_ARGS.get(str(config.get("class_path", "")).rpartition(".")[2], {})
    init_args = config.setdefault("init_args", {})
    for name, value in legacy.items():
        init_args.setdefault(name, value)
    return config


def model_config(
    checkpoint: Mapping[str, Any], path: PathLike, config: PathLike | None = None
) -> dict[str, Any]:
    """The ``{"class_path", "init_args"}`` config of the task's model.

    Taken from ``config`` (a ``terratorch fit`` YAML: ``model.init_args.model``) when given, else from
    the checkpoint's hyperparameters (with :func:`with_legacy_arguments`), which must pass
    :func:`check_model_config`.

    Raises:
        CheckpointError: If neither holds a model ``class_path``, or the checkpoint's names a class
            outside the allow-list; the message says how to fix it.
    """
    if config is not None:
        source = f"{config} (model.init_args.model)"
        data = yaml.safe_load(Path(config).read_text()) or {}
        model = ((data.get("model") or {}).get("init_args") or {}).get("model")
    else:
        source = f"{path} (hyper_parameters.model)"
        model = (checkpoint.get("hyper_parameters") or {}).get("model")
    if not isinstance(model, Mapping) or "class_path" not in model:
        msg = (
            f"no model class_path config in {source}: the checkpoint was not written by `terratorch fit` "
            "(LightningCLI). Pass the run's YAML config (--config) to rebuild the model."
        )
        raise CheckpointError(msg)
    if config is not None:
        return copy.deepcopy(dict(model))
    check_model_config(model, f"{path} (hyper_parameters)")
    return with_legacy_arguments(model)


def build_model(config: Mapping[str, Any]) -> nn.Module:
    """Instantiate ``{"class_path": ..., "init_args": {...}}`` as jsonargparse (LightningCLI) does."""
    try:
        return instantiate(config, nn.Module, "model")
    except ValueError as error:
        raise CheckpointError(str(error)) from error


def without_base_download(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with ``pretrained=False`` and ``ckpt_path=None`` where the model takes them."""
    config = copy.deepcopy(dict(config))
    init_args = config.setdefault("init_args", {})
    init_args["pretrained"] = False
    if "ckpt_path" in init_args:
        init_args["ckpt_path"] = None
    return config


def model_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The model's weights: the task's ``state_dict`` entries under ``model.``, prefix removed."""
    return {
        k[len(MODEL_PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(MODEL_PREFIX)
    }


def build_for_checkpoint(
    config: Mapping[str, Any], checkpoint: Mapping[str, Any], path: PathLike
) -> nn.Module:
    """Build the model of ``config`` to receive ``checkpoint``'s weights.

    A full checkpoint's model is built without its base weights (:func:`without_base_download`); a
    trained-only checkpoint's with them: pretrained weights, the ``ckpt_path`` file, or the random
    state the run built its random base from.

    Raises:
        CheckpointError: If the base weights cannot be had (offline, missing ``ckpt_path``); one line
            naming the checkpoint and the missing source.
    """
    saved = saved_reference(checkpoint)
    if saved is None:
        return build_model(without_base_download(config))
    ckpt_path = (config.get("init_args") or {}).get("ckpt_path")
    if ckpt_path and not Path(ckpt_path).is_file():
        msg = (
            f"{path} holds only the trained weights and needs its frozen base from "
            f"ckpt_path {ckpt_path} (model.init_args.ckpt_path), which does not exist; put the TerraMind "
            "file there or pass the run's YAML with its location (--config)"
        )
        raise CheckpointError(msg)
    try:
        return rebuild(config, saved.rng_state)
    except OSError as error:  # PretrainedWeightsError (offline), FileNotFoundError (ckpt_path)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        msg = (
            f"{path} holds only the trained weights and needs its frozen base ({saved.describe()}), "
            f"which cannot be loaded: {reason}"
        )
        raise CheckpointError(msg) from error


def complete_base(
    state: dict[str, torch.Tensor],
    model: nn.Module,
    checkpoint: Mapping[str, Any],
    config: Mapping[str, Any],
    path: PathLike,
) -> None:
    """Add the frozen base of a trained-only checkpoint to its model ``state``, checked by its hash.

    Nothing is added for a full checkpoint.

    Raises:
        CheckpointError: If the model's base is not the one the checkpoint was trained on; one line
            naming both.
    """
    saved = saved_reference(checkpoint)
    if saved is None:
        return
    try:
        complete_state_dict(state, model, saved, config, where=str(path))
    except BaseMismatchError as error:
        raise CheckpointError(str(error)) from error


def load_model(path: PathLike, config: PathLike | None = None) -> nn.Module:
    """Rebuild the grounding model of a ``SARGroundingTask`` checkpoint, in eval mode, on the CPU.

    Args:
        path: Lightning checkpoint (``.ckpt``).
        config: The run's YAML config, for checkpoints without a model config in their hyperparameters.

    Raises:
        CheckpointError: If the checkpoint cannot be read, has no model config, its weights do not
            fit the rebuilt model (the message lists some missing and unexpected keys), or, for a
            trained-only checkpoint, its frozen base cannot be loaded or is not the one it names.
    """
    checkpoint = read_checkpoint(path)
    settings = model_config(checkpoint, path, config)
    model = build_for_checkpoint(settings, checkpoint, path)
    state = model_state_dict(checkpoint)
    complete_base(state, model, checkpoint, settings, path)
    source = f"--config {config}" if config is not None else "its own hyper_parameters"
    fix = "it was trained with another model configuration (decoder width, LoRA rank or bands); " + (
        "pass the run's own YAML with --config or leave --config out"
        if config
        else "pass the run's YAML with --config"
    )
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # torch's size mismatches; a model's own check names its fix instead
        mismatched = shape_mismatches(model.state_dict(), state) or [str(err).splitlines()[0]]
        msg = f"{path}: the weights do not fit the {type(model).__name__} built from {source}: {summary(mismatched)}; {fix}"
        raise CheckpointError(msg) from err
    if result.missing_keys or result.unexpected_keys:
        msg = (
            f"{path}: the weights do not fit the {type(model).__name__} built from {source}: missing "
            f"{summary(result.missing_keys)}, unexpected {summary(result.unexpected_keys)}; {fix}"
        )
        raise CheckpointError(msg)
    return model.eval()


def set_timesteps(model: nn.Module, timesteps: int | None) -> None:
    """Override the diffusion steps of a generative model (``None`` keeps them).

    Raises:
        ValueError: If the model has no ``timesteps`` (e.g. the residual model).
    """
    if timesteps is None:
        return
    if not hasattr(model, "timesteps"):
        msg = f"{type(model).__name__} has no diffusion timesteps; drop --timesteps"
        raise ValueError(msg)
    model.timesteps = timesteps
