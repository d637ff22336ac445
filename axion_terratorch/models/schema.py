"""A closed schema for model configs read from files the user did not write (checkpoints, exports).

A checkpoint's ``hyper_parameters.model`` (and an export's ``config.yaml``) is data: it is read into a
:class:`ModelSpec` (one of this package's model classes, from the fixed table :data:`MODEL_KINDS`, and
its constructor arguments as plain values checked against the constructor's type hints) and the model
is built by calling that constructor. No string of the config is imported, called or parsed as a class
spec or JSON; jsonargparse never sees it. A YAML the user passes (``--config``, ``terratorch fit -c``)
is their own and keeps jsonargparse's full power.

The walk over the config is bounded (:data:`MAX_NODES` visits, shared references counted each time
they are reached, :data:`MAX_DEPTH` levels, :data:`MAX_STRING` characters), so a crafted config is
refused in milliseconds. Sizes that set the model's memory are bounded per field
(:data:`FIELD_BOUNDS`), and :func:`build_on_meta` builds the model without allocating its weights so
its parameter count (:data:`MAX_PARAMETERS`) and shapes can be checked before the real build.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from axion_terratorch.argument_bounds import TIMESTEPS_BOUNDS
from axion_terratorch.models.baselines import SARGuidedFilter
from axion_terratorch.models.generative_grounding import TerraMindGenerativeGrounding
from axion_terratorch.models.lora import LoraSettings
from axion_terratorch.models.residual_grounding import TerraMindResidualGrounding

#: The model classes an untrusted config may name, by class name.
MODEL_KINDS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (TerraMindResidualGrounding, TerraMindGenerativeGrounding, SARGuidedFilter)
}
#: The option dataclasses a field may hold (as a plain mapping of their fields).
OPTION_CLASSES: tuple[type, ...] = (LoraSettings,)
#: Visits of the config walk (a shared sub-config counts each time it is reached).
MAX_NODES = 10_000
#: Nesting levels of the config.
MAX_DEPTH = 16
#: Characters of any string or key.
MAX_STRING = 4_096
#: Items of a list (bands).
MAX_ITEMS = 64
#: Parameters of the model built from an untrusted config (TerraMind large with its tokenizers is ~1e9).
MAX_PARAMETERS = 2_000_000_000
#: ``(low, high)`` of integer fields that set a model's size or run time, by field name.
FIELD_BOUNDS: dict[str, tuple[int, int]] = {
    "decoder_channels": (1, 4_096),
    "timesteps": TIMESTEPS_BOUNDS,
    "gradient_steps": (1, 1_000),
    "rank": (1, 1_024),
    "radius": (1, 256),
    "noise_seed": (0, 2**63 - 1),
}
#: Any other integer field.
INT_BOUNDS = (-(2**31), 2**31 - 1)

_PLAIN = (type(None), bool, int, float, str)


class ModelConfigError(ValueError):
    """An untrusted model config is not one this package can build; the message names the key."""


@dataclass(frozen=True)
class ModelSpec:
    """A model of this package and its checked constructor arguments.

    Attributes:
        kind: Class name, a key of :data:`MODEL_KINDS`.
        init_args: Constructor arguments as plain values (option dataclasses as dicts).
    """

    kind: str
    init_args: dict[str, Any] = field(default_factory=dict)

    def build(self) -> nn.Module:
        """Call the model's constructor with :attr:`init_args` (option dicts become their dataclasses)."""
        cls = MODEL_KINDS[self.kind]
        hints = _field_types(cls)
        return cls(**{key: _construct(hints[key], value) for key, value in self.init_args.items()})

    def to_config(self) -> dict[str, Any]:
        """The ``{"class_path", "init_args"}`` config (what checkpoints and exports store)."""
        return {"class_path": f"axion_terratorch.models.{self.kind}", "init_args": _copy(self.init_args)}

    def replace(self, **init_args: Any) -> ModelSpec:
        """A copy with ``init_args`` changed where the model takes them."""
        accepted = _field_types(MODEL_KINDS[self.kind])
        return ModelSpec(
            self.kind, {**_copy(self.init_args), **{k: v for k, v in init_args.items() if k in accepted}}
        )


def read_model_config(config: object, source: str) -> ModelSpec:
    """Read an untrusted ``{"class_path", "init_args"}`` model config into a :class:`ModelSpec`.

    ``class_path`` must name a class of :data:`MODEL_KINDS` (``TerraMindResidualGrounding``,
    ``axion_terratorch.models.TerraMindResidualGrounding`` or its module path); each init arg must be a
    parameter of that class with a value of its annotated type. Arguments the config leaves out take
    the constructor's defaults. Nothing is imported or called.

    Raises:
        ModelConfigError: One line naming ``source``, the key and what is wrong.
    """
    check_bounded(config, source)
    if not isinstance(config, Mapping):
        msg = (
            f"{source}: model: expected a mapping with class_path and init_args, got {type(config).__name__}"
        )
        raise ModelConfigError(msg)
    _refuse_unknown(config, ("class_path", "init_args"), f"{source}: model")
    kind = _kind(config.get("class_path"), source)
    init_args = config.get("init_args") or {}
    if not isinstance(init_args, Mapping):
        msg = f"{source}: model.init_args: expected a mapping, got {type(init_args).__name__}"
        raise ModelConfigError(msg)
    hints = _field_types(MODEL_KINDS[kind])
    _refuse_unknown(init_args, tuple(hints), f"{source}: model.init_args ({kind})")
    return ModelSpec(
        kind,
        {
            key: _check(hints[key], value, f"{source}: model.init_args.{key}")
            for key, value in init_args.items()
        },
    )


def check_bounded(node: object, source: str, what: str = "model config") -> None:
    """Refuse a config beyond :data:`MAX_NODES` visits, :data:`MAX_DEPTH` levels or :data:`MAX_STRING`
    characters, or holding anything but mappings with string keys, lists and plain scalars.

    Raises:
        ModelConfigError: Naming ``source``, ``what`` the config is and the limit.
    """
    stack: list[tuple[object, int]] = [(node, 0)]
    visits = 0
    while stack:
        item, depth = stack.pop()
        visits += 1
        if visits > MAX_NODES:
            msg = (
                f"{source}: {what} has more than {MAX_NODES} entries (shared ones counted each time); refused"
            )
            raise ModelConfigError(msg)
        if depth > MAX_DEPTH:
            msg = f"{source}: {what} nests deeper than {MAX_DEPTH} levels; refused"
            raise ModelConfigError(msg)
        if isinstance(item, str):
            if len(item) > MAX_STRING:
                msg = f"{source}: {what} holds a string of {len(item)} characters (at most {MAX_STRING})"
                raise ModelConfigError(msg)
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if not isinstance(key, str):
                    msg = f"{source}: {what} has a key of type {type(key).__name__}; keys are strings"
                    raise ModelConfigError(msg)
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(item, list | tuple):
            stack += [(value, depth + 1) for value in item]
        elif not isinstance(item, _PLAIN):
            msg = f"{source}: {what} holds a {type(item).__name__}; only mappings, lists, numbers, strings"
            raise ModelConfigError(msg)


def count_on_meta(model: nn.Module) -> int:
    """The number of parameters of ``model`` (built on the meta device or not)."""
    return sum(p.numel() for p in model.parameters())


def build_on_meta(spec: ModelSpec, source: str, limit: int = MAX_PARAMETERS) -> nn.Module:
    """Build ``spec`` with its weights on the meta device (no memory), refusing more than ``limit`` parameters.

    Tensors whose size the constructor passes (``torch.empty``, ``zeros``, ``randn`` ...) are made on the
    meta device; tensors computed from values (``torch.tensor``, ``linspace``) stay real, as constructors
    read them (``.item()``).

    Raises:
        ModelConfigError: If the constructor refuses the arguments, or the model is larger than ``limit``.
    """
    try:
        with _MetaSized():
            model = spec.build()
    except (ValueError, TypeError, RuntimeError) as error:
        msg = f"{source}: cannot build {spec.kind} from the model config: {str(error).splitlines()[0]}"
        raise ModelConfigError(msg) from error
    count = count_on_meta(model)
    if count > limit:
        msg = f"{source}: the model config describes {spec.kind} with {count:,} parameters, more than {limit:,}; refused before allocating"
        raise ModelConfigError(msg)
    return model


class _MetaSized(TorchFunctionMode):
    """Put tensors created from a size on the meta device (see :func:`build_on_meta`)."""

    _FACTORIES = frozenset(
        {
            torch.empty,
            torch.empty_strided,
            torch.zeros,
            torch.ones,
            torch.full,
            torch.rand,
            torch.randn,
            torch.randint,
            torch.eye,
            torch.Tensor.new_empty,
            torch.Tensor.new_zeros,
            torch.Tensor.new_ones,
            torch.Tensor.new_full,
        }
    )

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: Sequence[Any] = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        if func in self._FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = torch.device("meta")
        return func(*args, **kwargs)


def find_model_kind(class_path: object) -> str | None:
    """The key of :data:`MODEL_KINDS` that ``class_path`` names (bare class name,
    ``axion_terratorch.models.<Name>`` or its module path), else ``None``; nothing is imported."""
    if isinstance(class_path, str):
        for kind, cls in MODEL_KINDS.items():
            if class_path in (
                kind,
                f"axion_terratorch.models.{kind}",
                f"{cls.__module__}.{cls.__qualname__}",
            ):
                return kind
    return None


def _kind(class_path: object, source: str) -> str:
    kind = find_model_kind(class_path)
    if kind is not None:
        return kind
    shown = repr(class_path) if len(repr(class_path)) <= 120 else repr(class_path)[:117] + "..."
    msg = (
        f"{source}: model.class_path names {shown}, which is not one of this package's models "
        f"({', '.join(MODEL_KINDS)}); refused without importing it (a checkpoint may not run code). "
        "If you trust the file, pass the run's YAML with --config"
    )
    raise ModelConfigError(msg)


def _refuse_unknown(mapping: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in mapping:
        if key not in known:
            shown = key if len(key) <= 80 else key[:77] + "..."
            msg = f"{where}: unknown key {shown!r} (known: {', '.join(known)})"
            raise ModelConfigError(msg)


_HINTS: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """Constructor parameter -> type hint of ``cls`` (or the fields of an option dataclass)."""
    if cls not in _HINTS:
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            _HINTS[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
        else:
            hints = typing.get_type_hints(cls.__init__)
            names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
            _HINTS[cls] = {name: hints[name] for name in names}
    return _HINTS[cls]


def _check(hint: Any, value: object, where: str) -> Any:
    """``value`` as a plain value of type ``hint``, or :class:`ModelConfigError` naming ``where``."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _check(inner, value, where)
    if origin is Literal:
        if isinstance(value, str | bool | int) and value in get_args(hint):
            return value
        return _refuse(where, f"one of {list(get_args(hint))}", value)
    if hint is bool:
        return value if isinstance(value, bool) else _refuse(where, "true or false", value)
    if hint is int:
        low, high = FIELD_BOUNDS.get(where.rpartition(".")[2], INT_BOUNDS)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        return _refuse(where, f"an integer in [{low}, {high}]", value)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        return _refuse(where, "a finite number", value)
    if hint is str:
        return value if isinstance(value, str) else _refuse(where, "a string", value)
    if origin in (Sequence, list, tuple) and len(get_args(hint)) == 1:
        (inner,) = get_args(hint)
        if isinstance(value, list | tuple) and 1 <= len(value) <= MAX_ITEMS:
            return [_check(inner, item, f"{where}[{i}]") for i, item in enumerate(value)]
        return _refuse(where, f"a list of 1 to {MAX_ITEMS} {'names' if inner is str else 'items'}", value)
    if hint in OPTION_CLASSES:
        if not isinstance(value, Mapping):
            return _refuse(where, f"a mapping of {', '.join(_field_types(hint))}", value)
        hints = _field_types(hint)
        _refuse_unknown(value, tuple(hints), where)
        return {key: _check(hints[key], item, f"{where}.{key}") for key, item in value.items()}
    msg = f"{where}: the schema has no reader for {hint!r}"
    raise ModelConfigError(msg)


def _refuse(where: str, expected: str, value: object) -> Any:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    msg = f"{where}: expected {expected}, got {shown}"
    raise ModelConfigError(msg)


def _construct(hint: Any, value: Any) -> Any:
    """A checked plain value as the constructor takes it: option dicts become their dataclass."""
    for option in OPTION_CLASSES:
        if isinstance(value, Mapping) and (hint is option or option in get_args(hint)):
            return option(**value)
    return value


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return value


def check_value(hint: Any, value: object, where: str) -> Any:
    """``value`` checked as a plain value of type ``hint`` (the readers of :func:`read_model_config`:
    booleans, bounded integers, finite floats, strings, ``Literal`` choices, lists, option dataclasses).

    Raises:
        ModelConfigError: Naming ``where`` and the expected type.
    """
    return _check(hint, value, where)
