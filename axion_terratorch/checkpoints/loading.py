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

A checkpoint's model config is untrusted data: it is read into this package's own description of a
model (:func:`~axion_terratorch.models.schema.read_model_config`: one of its model classes and plain,
bounded constructor arguments) and the model is built by calling that class, first on the meta device
to check its size and shapes against the weights before anything is allocated. No string of it is
imported or called. A YAML the user passes explicitly (``--config``) is trusted and built by
jsonargparse, as ``terratorch fit`` does.
"""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from axion_terratorch.config import instantiate, read_yaml
from axion_terratorch.constants import PathLike
from axion_terratorch.models.base_reference import (
    BaseMismatchError,
    complete_state_dict,
    rebuild,
    saved_reference,
)
from axion_terratorch.models.schema import ModelConfigError, ModelSpec, build_on_meta, read_model_config
from axion_terratorch.state_dict_mismatch import shape_mismatches, summary

logger = logging.getLogger(__name__)

#: Prefix of the model's weights in the task's state dict.
MODEL_PREFIX = "model."


class CheckpointError(ValueError):
    """A checkpoint or config cannot be read or does not describe a grounding model."""


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


def model_spec(checkpoint: Mapping[str, Any], path: PathLike) -> ModelSpec:
    """The checkpoint's ``hyper_parameters.model`` read through the closed schema (nothing imported).

    Raises:
        CheckpointError: If there is none, or it is not a model of this package with valid arguments;
            one line naming the file and key.
    """
    model = (checkpoint.get("hyper_parameters") or {}).get("model")
    source = f"{path} (hyper_parameters)"
    if not isinstance(model, Mapping) or "class_path" not in model:
        msg = (
            f"no model class_path config in {source}: the checkpoint was not written by `terratorch fit` "
            "(LightningCLI). Pass the run's YAML config (--config) to rebuild the model."
        )
        raise CheckpointError(msg)
    try:
        return read_model_config(model, source)
    except ModelConfigError as error:
        raise CheckpointError(str(error)) from error


def trusted_model_config(config: PathLike) -> dict[str, Any]:
    """``model.init_args.model`` of the user's own ``terratorch fit`` YAML (built by jsonargparse).

    Raises:
        CheckpointError: If the file holds no model ``class_path``.
    """
    try:
        data = read_yaml(config, "--config")
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(str(error)) from error
    model = ((data.get("model") or {}).get("init_args") or {}).get("model")
    if not isinstance(model, Mapping) or "class_path" not in model:
        msg = f"no model class_path config in {config} (model.init_args.model)"
        raise CheckpointError(msg)
    return copy.deepcopy(dict(model))


def model_config(
    checkpoint: Mapping[str, Any], path: PathLike, config: PathLike | None = None
) -> dict[str, Any]:
    """The ``{"class_path", "init_args"}`` config of the task's model.

    Taken from ``config`` (the user's ``terratorch fit`` YAML: ``model.init_args.model``) when given,
    else from the checkpoint's hyperparameters through :func:`model_spec` (plain data of a model of
    this package only).

    Raises:
        CheckpointError: If neither holds a model ``class_path``, or the checkpoint's is refused by the
            schema; the message says how to fix it.
    """
    if config is not None:
        return trusted_model_config(config)
    return model_spec(checkpoint, path).to_config()


def build_model(config: Mapping[str, Any]) -> nn.Module:
    """Instantiate a trusted ``{"class_path": ..., "init_args": {...}}`` as jsonargparse (LightningCLI) does.

    Only for configs the user wrote (``--config``); untrusted ones go through :func:`build_from_spec`.
    """
    try:
        return instantiate(config, nn.Module, "model")
    except ValueError as error:
        raise CheckpointError(str(error)) from error


def build_from_spec(
    spec: ModelSpec,
    source: str,
    shapes: Mapping[str, torch.Tensor] | None = None,
    weights_file: PathLike | None = None,
    rng_state: torch.Tensor | None = None,
) -> nn.Module:
    """Build an untrusted model description: on the meta device first (parameter limit, and the shapes
    of ``shapes``, the weights of ``weights_file``, where both have a key), then for real, from torch's
    random state ``rng_state`` when given (the global state is restored afterwards).

    Raises:
        CheckpointError: If the description cannot be built, is too large, or its shapes do not fit
            the weights (named before anything is allocated).
    """
    try:
        meta = build_on_meta(spec, source)
    except ModelConfigError as error:
        raise CheckpointError(str(error)) from error
    mismatched = shape_mismatches(meta.state_dict(), shapes or {})
    if mismatched:  # the model's own load checks (decoder kind, radiometry) name their fix first
        try:
            meta.load_state_dict(dict(shapes or {}), strict=False, assign=True)
        except ValueError as error:
            msg = f"{weights_file or source}: {error}"
            raise CheckpointError(msg) from error
        except RuntimeError:
            pass  # the size mismatches, named below
        msg = (
            f"{weights_file or source}: the weights do not fit the {spec.kind} built from {source}: "
            f"{summary(mismatched)}; it was trained with another model configuration (decoder width, LoRA "
            "rank or bands) or the file is inconsistent; pass the run's YAML with --config"
        )
        raise CheckpointError(msg)
    del meta
    if rng_state is None:
        return spec.build()
    with torch.random.fork_rng(devices=[]):
        torch.random.set_rng_state(rng_state)
        return spec.build()


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


def rebuild_model(checkpoint: Mapping[str, Any], path: PathLike, config: PathLike | None = None) -> nn.Module:
    """The checkpoint's model, ready for its weights.

    Built from ``config`` (trusted, jsonargparse) when given, else from the checkpoint's model config
    through the schema (:func:`model_spec`, :func:`build_from_spec`). A full checkpoint's model is built
    without its base weights (:func:`without_base_download`); a trained-only checkpoint's with them:
    pretrained weights, the ``ckpt_path`` file, or the random state the run built its random base from.

    Raises:
        CheckpointError: If the model cannot be built, or its base weights cannot be had (offline,
            missing ``ckpt_path``); one line naming the checkpoint and the missing source.
    """
    saved = saved_reference(checkpoint)
    source = f"{path} (hyper_parameters)"
    if saved is None:
        if config is not None:
            return build_model(without_base_download(trusted_model_config(config)))
        spec = model_spec(checkpoint, path).replace(pretrained=False, ckpt_path=None)
        return build_from_spec(spec, source, model_state_dict(checkpoint), path)
    settings = (
        trusted_model_config(config) if config is not None else model_spec(checkpoint, path).to_config()
    )
    ckpt_path = (settings.get("init_args") or {}).get("ckpt_path")
    if ckpt_path and not Path(ckpt_path).is_file():
        msg = (
            f"{path} holds only the trained weights and needs its frozen base from "
            f"ckpt_path {ckpt_path} (model.init_args.ckpt_path), which does not exist; put the TerraMind "
            "file there or pass the run's YAML with its location (--config)"
        )
        raise CheckpointError(msg)
    try:
        if config is not None:
            return rebuild(settings, saved.rng_state)
        spec = model_spec(checkpoint, path)
        return build_from_spec(spec, source, model_state_dict(checkpoint), path, rng_state=saved.rng_state)
    except OSError as error:  # PretrainedWeightsError (offline), FileNotFoundError (ckpt_path)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        msg = (
            f"{path} holds only the trained weights and needs its frozen base ({saved.describe()}), "
            f"which cannot be loaded: {reason}"
        )
        raise CheckpointError(msg) from error


def complete_base(
    state: dict[str, torch.Tensor], model: nn.Module, checkpoint: Mapping[str, Any], path: PathLike
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
        complete_state_dict(state, model, saved, where=str(path))
    except BaseMismatchError as error:
        raise CheckpointError(str(error)) from error


def load_weights(
    model: nn.Module, state: Mapping[str, torch.Tensor], path: PathLike, config: PathLike | None
) -> None:
    """Load a checkpoint's model weights into ``model``; every key must fit.

    Raises:
        CheckpointError: Naming some missing, unexpected or mismatched keys and the fix.
    """
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


def load_model(path: PathLike, config: PathLike | None = None) -> nn.Module:
    """Rebuild the grounding model of a ``SARGroundingTask`` checkpoint, in eval mode, on the CPU.

    Args:
        path: Lightning checkpoint (``.ckpt``).
        config: The run's YAML config (trusted: built by jsonargparse), for checkpoints without a
            model config in their hyperparameters or of a model outside this package.

    Raises:
        CheckpointError: If the checkpoint cannot be read, has no model config or one the schema
            refuses, its weights do not fit the rebuilt model (the message lists some keys), or, for a
            trained-only checkpoint, its frozen base cannot be loaded or is not the one it names.
    """
    checkpoint = read_checkpoint(path)
    model = rebuild_model(checkpoint, path, config)
    state = model_state_dict(checkpoint)
    complete_base(state, model, checkpoint, path)
    load_weights(model, state, path, config)
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
