"""The module configs a checkpoint's ``hyper_parameters`` hold (``model``, ``loss``, ``metrics``), built
by the package's own code from closed tables: the Python route of
``SARGroundingTask.load_from_checkpoint(path)``.

Lightning passes a checkpoint's ``hyper_parameters`` to the task's constructor, so they are untrusted
data like the model config ``axion-stage3 predict`` reads. The model is read by the closed schema
(:func:`~axion_terratorch.models.schema.read_model_config`) and built on the meta device first; the
loss and the metrics must be classes of this package (:data:`LOSS_KINDS`, :data:`METRICS_KINDS`), the
loss's terms (``extra_terms``, ``LossComposite.terms``) classes of :data:`TERM_KINDS`, each argument a
plain value of its annotated type. No string is imported, called or parsed as a class spec.

A class outside the tables (a user's own loss term, by design of the open loss) is built by
jsonargparse only when the caller trusts it: ``trust_class_paths=True`` (any class path, the file is
trusted) or a collection of class paths (those only), given to :func:`trusting`, which
``SARGroundingTask.load_from_checkpoint`` enters. The opt-in is never read from the checkpoint.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, get_args, get_origin

from torch import nn

from axion_terratorch import losses
from axion_terratorch.config import instantiate
from axion_terratorch.losses import WeightedTerm
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models.schema import (
    ModelConfigError,
    build_on_meta,
    check_bounded,
    check_value,
    find_model_kind,
    read_model_config,
)

#: Losses a checkpoint may name.
LOSS_KINDS: tuple[type[nn.Module], ...] = (losses.Stage3Loss, losses.LossComposite)
#: Loss terms a checkpoint may name inside a loss (``extra_terms``, ``terms``).
TERM_KINDS: tuple[type[nn.Module], ...] = (
    losses.CycleLoss,
    losses.IdentityLoss,
    losses.LPIPSLoss,
    losses.SARAgreementCeiling,
    losses.SARAgreementExcess,
    losses.SARAgreementHinge,
    losses.SARConsistencyLoss,
    losses.SpectralLoss,
    losses.SSIMLoss,
)
#: Metrics a checkpoint may name.
METRICS_KINDS: tuple[type[nn.Module], ...] = (GroundingMetrics,)
#: Where the configs come from, in messages.
SOURCE = "hyper_parameters"
#: The opt-in: ``True`` trusts every class path, a collection the class paths it holds.
TrustClassPaths = bool | Collection[str]

_TRUST: ContextVar[bool | frozenset[str]] = ContextVar("axion_trust_class_paths", default=False)
_PACKAGES = {"loss": "axion_terratorch.losses", "metrics": "axion_terratorch.metrics"}
_TABLES = {LOSS_KINDS: "losses", TERM_KINDS: "loss terms", METRICS_KINDS: "metrics"}


class UntrustedClassPathError(ModelConfigError):
    """A checkpoint names a class outside the package's tables and the caller did not trust it."""


@contextmanager
def trusting(trust: TrustClassPaths) -> Iterator[None]:
    """Build the module configs read in this block trusting ``trust`` (see the module docstring).

    Raises:
        TypeError: If ``trust`` is neither a bool nor a collection of class path strings.
    """
    if not isinstance(trust, bool):
        if isinstance(trust, str) or not all(isinstance(path, str) for path in trust):
            msg = f"trust_class_paths must be True, False or a collection of class paths, got {trust!r}"
            raise TypeError(msg)
        trust = frozenset(trust)
    token = _TRUST.set(trust)
    try:
        yield
    finally:
        _TRUST.reset(token)


def build_from_checkpoint(config: Mapping[str, Any], name: str) -> nn.Module:
    """Build the ``{"class_path", "init_args"}`` config of the task argument ``name`` (``model``,
    ``loss`` or ``metrics``) as a checkpoint stores it.

    Raises:
        UntrustedClassPathError: A class outside the tables, not trusted: one line naming the key, the
            class path and the opt-in.
        ModelConfigError: A config the tables' classes cannot take (the message names the key).
    """
    if _trusted(config.get("class_path")):
        return instantiate(config, nn.Module, name)
    check_bounded(config, SOURCE, f"{name} config")
    if name == "model":
        if find_model_kind(config.get("class_path")) is None:
            raise _untrusted(name, config.get("class_path"), "models")
        spec = read_model_config(config, SOURCE)
        build_on_meta(spec, SOURCE)
        return spec.build()
    kinds = LOSS_KINDS if name == "loss" else METRICS_KINDS
    return _build(config, kinds, name, _PACKAGES[name])


def _build(config: object, kinds: tuple[type[nn.Module], ...], where: str, package: str) -> nn.Module:
    if not isinstance(config, Mapping) or set(config) - {"class_path", "init_args"}:
        msg = f"{SOURCE}: {where}: expected a mapping of class_path and init_args"
        raise ModelConfigError(msg)
    class_path = config.get("class_path")
    cls = _find(class_path, kinds, package)
    if cls is None:
        if _trusted(class_path):
            return instantiate(config, nn.Module, where.rpartition(".")[2])
        raise _untrusted(where, class_path, _TABLES[kinds])
    init_args = config.get("init_args") or {}
    if not isinstance(init_args, Mapping):
        msg = f"{SOURCE}: {where}.init_args: expected a mapping, got {type(init_args).__name__}"
        raise ModelConfigError(msg)
    hints = _parameters(cls)
    unknown = [key for key in init_args if key not in hints]
    if unknown:
        msg = f"{SOURCE}: {where}.init_args: unknown key {unknown[0][:80]!r} of {cls.__name__} (known: {', '.join(hints)})"
        raise ModelConfigError(msg)
    values = {key: _value(hints[key], value, f"{where}.init_args.{key}") for key, value in init_args.items()}
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        msg = f"{SOURCE}: cannot build {where} ({cls.__name__}): {str(error).splitlines()[0]}"
        raise ModelConfigError(msg) from error


def _value(hint: Any, value: object, where: str) -> Any:
    """A checked init arg; a mapping of :class:`WeightedTerm` is built term by term from :data:`TERM_KINDS`."""
    options = list(get_args(hint)) if get_origin(hint) in (typing.Union, types.UnionType) else [hint]
    mapping = next((o for o in options if get_origin(o) is Mapping and get_args(o)[1] is WeightedTerm), None)
    if mapping is None:
        return check_value(hint, value, f"{SOURCE}: {where}")
    if value is None and type(None) in options:
        return None
    if not isinstance(value, Mapping):
        msg = f"{SOURCE}: {where}: expected a mapping of term names to {{term, weight}}"
        raise ModelConfigError(msg)
    terms = {}
    for name, entry in value.items():
        if not isinstance(entry, Mapping) or not set(entry) <= {"term", "weight"} or "term" not in entry:
            msg = f"{SOURCE}: {where}.{name}: expected a mapping of term and weight"
            raise ModelConfigError(msg)
        term = _build(entry["term"], TERM_KINDS, f"{where}.{name}.term", "axion_terratorch.losses")
        weight = check_value(float, entry.get("weight", 1.0), f"{SOURCE}: {where}.{name}.weight")
        terms[name] = WeightedTerm(term, weight)
    return terms


def _find(class_path: object, kinds: tuple[type[nn.Module], ...], package: str) -> type[nn.Module] | None:
    """The class of ``kinds`` that ``class_path`` names (bare, ``<package>.<Name>`` or its module path)."""
    if isinstance(class_path, str):
        for cls in kinds:
            if class_path in (
                cls.__name__,
                f"{package}.{cls.__name__}",
                f"{cls.__module__}.{cls.__qualname__}",
            ):
                return cls
    return None


def _parameters(cls: type) -> dict[str, Any]:
    """Keyword parameters of ``cls``'s constructor and their type hints (``*args``/``**kwargs`` take nothing)."""
    hints = typing.get_type_hints(cls.__init__)
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name: hints[p.name] for p in parameters if p.name != "self" and p.kind in named}


def _trusted(class_path: object) -> bool:
    trust = _TRUST.get()
    return trust is True or (isinstance(trust, frozenset) and class_path in trust)


def _untrusted(where: str, class_path: object, table: str) -> UntrustedClassPathError:
    shown = repr(class_path) if len(repr(class_path)) <= 120 else repr(class_path)[:117] + "..."
    msg = (
        f"{SOURCE}: {where}.class_path names {shown}, which is not one of this package's {table}; refused without "
        "importing it (a checkpoint may not run code). If you trust the checkpoint, load it with "
        f"SARGroundingTask.load_from_checkpoint(path, trust_class_paths=[{shown}]) (or True for every "
        "class path), or pass the module itself (load_from_checkpoint(path, model=..., loss=...))"
    )
    return UntrustedClassPathError(msg)
