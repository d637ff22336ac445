"""Modules that remember how they were built, as the ``class_path`` / ``init_args`` config a YAML gives.

``terratorch fit`` (LightningCLI) stores the task's ``model`` argument as its config in every
checkpoint, so the model can be rebuilt from the checkpoint alone. A model built in plain Python has
no such config; :class:`RecordsInitArgs` records one from the constructor's arguments, so
``SARGroundingTask`` checkpoints carry it however the run was started. Lightning's
``save_hyperparameters`` does this for ``LightningModule`` only, hence this small mixin.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

#: Attribute holding the recorded config (set before the constructor runs).
_ATTRIBUTE = "_axion_init_config"
#: Attribute holding torch's CPU random state when the constructor started.
_RNG_ATTRIBUTE = "_axion_init_rng_state"


class NotRecordable(Exception):
    """An argument has no plain-data form (e.g. a module without a recorded config)."""


class RecordsInitArgs:
    """Mixin: record the most derived constructor's arguments; read them with :func:`init_config`.

    torch's CPU random state at the start of that constructor is recorded too (:func:`init_rng_state`).

    Arguments are stored as plain data: dataclasses as dicts, tuples as lists, paths as strings,
    modules that record their own config as that config. When one cannot be (another module, a
    ``*args``), nothing is recorded.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__init__)  # type: ignore[method-assign]


def init_config(module: object) -> dict[str, Any] | None:
    """``{"class_path": ..., "init_args": {...}}`` of a :class:`RecordsInitArgs` module, else ``None``."""
    config = getattr(module, _ATTRIBUTE, None)
    return (
        None
        if config is None
        else {"class_path": config["class_path"], "init_args": dict(config["init_args"])}
    )


def init_rng_state(module: object) -> torch.Tensor | None:
    """torch's CPU random state when a :class:`RecordsInitArgs` module's constructor started, else ``None``.

    Building the module's config again from this state draws the same random initial weights
    (:mod:`axion_terratorch.models.base_reference` rebuilds a random frozen base so).
    """
    return getattr(module, _RNG_ATTRIBUTE, None)


def _recording(init: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if _ATTRIBUTE not in self.__dict__:  # the most derived constructor records; super() calls do not
            object.__setattr__(self, _ATTRIBUTE, _config(type(self), signature, self, args, kwargs))
            object.__setattr__(self, _RNG_ATTRIBUTE, torch.random.get_rng_state())
        init(self, *args, **kwargs)

    return wrapper


def _config(
    cls: type, signature: inspect.Signature, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any] | None:
    bound = signature.bind(self, *args, **kwargs)
    bound.apply_defaults()
    init_args: dict[str, Any] = {}
    try:
        for name, value in list(bound.arguments.items())[1:]:
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise NotRecordable
            elif kind is inspect.Parameter.VAR_KEYWORD:
                init_args.update({key: _plain(item) for key, item in value.items()})
            else:
                init_args[name] = _plain(value)
    except NotRecordable:
        return None
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    config = init_config(value)
    if config is None:
        raise NotRecordable
    return config
