"""Checkpoints that hold only what training changed, and a reference to the frozen base they need.

A LoRA run trains a few adapters, a decoder and a head on top of a frozen TerraMind whose weights
never change: saving that base in every checkpoint fills a disk with copies of one file (sizes in
``docs/training.md``). A *trained-only* checkpoint
keeps every state-dict entry except the frozen base (trainable parameters, the other buffers, and
Lightning's optimizer and loop state as usual) and records under :data:`CHECKPOINT_KEY` what base it
needs (:class:`BaseReference`): the TerraMind variant, the weights source (pretrained hub weights, a
``ckpt_path`` file, or a random initialisation together with the random state it was drawn from)
and SHA-256 hashes of the frozen weights and of the frozen layers' buffers (:func:`base_buffers`:
TerraMind's position embeddings and bias-free norms' zero biases, which its constructor rebuilds).
On load the base is rebuilt by the model's own constructor, checked against the hashes, and put
back into the state dict (:func:`complete_state_dict`); a base of another variant or other weights
is refused with one line naming both.

A random base (``pretrained: false`` without ``ckpt_path``: tests, smoke runs) can be rebuilt only
because :class:`~axion_terratorch.init_config.RecordsInitArgs` records torch's random state when the
model's constructor starts: building the same config from that state draws the same weights, and the
hash confirms it.
"""

from __future__ import annotations

import functools
import hashlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from axion_terratorch.compat.torch import tensor_version
from axion_terratorch.init_config import init_config, init_rng_state

#: Checkpoint entry holding the base reference of a trained-only checkpoint.
CHECKPOINT_KEY = "frozen_base"
#: What a checkpoint holds: ``trained`` (the default: without the frozen base when it can be
#: rebuilt) or ``full`` (every weight).
CheckpointWeights = Literal["trained", "full"]
#: Weights source of a random base.
RANDOM_SOURCE = "random init (recorded random state)"

#: Buffers that a forward pass in training mode updates (batch and instance norms).
RUNNING_STATISTICS = frozenset({"running_mean", "running_var", "num_batches_tracked"})
#: Cached hashes of a module's frozen weights and base buffers (by kind), keyed by the tensors'
#: identity and version counters.
_HASHES: weakref.WeakKeyDictionary[nn.Module, dict[str, tuple[tuple, str]]] = weakref.WeakKeyDictionary()


class BaseMismatchError(ValueError):
    """A trained-only checkpoint meets a model whose frozen base is not the one it was trained on."""


def check_checkpoint_weights(value: str) -> None:
    """Raise ``ValueError`` naming ``checkpoint_weights`` unless ``value`` is ``trained`` or ``full``."""
    if value not in get_args(CheckpointWeights):
        msg = f"checkpoint_weights must be one of {list(get_args(CheckpointWeights))}, got {value!r}"
        raise ValueError(msg)


@dataclass(frozen=True)
class BaseReference:
    """The frozen base a trained-only checkpoint needs.

    Attributes:
        variant: TerraMind variant of the model config (``None`` if it names none).
        source: Where the base weights come from, e.g. ``pretrained weights (Hugging Face hub)``.
        sha256: Hash of the frozen parameters (:func:`weights_hash`).
        tensors: Number of frozen parameter entries.
        rng_state: torch's CPU random state the model was built from, for a random base.
        buffers_sha256: Hash of the frozen layers' buffers (:func:`base_buffers`), which the
            checkpoint leaves out too; ``None`` in a checkpoint that holds them (saved before they
            were left out).
        buffer_tensors: Number of those buffers.
    """

    variant: str | None
    source: str
    sha256: str
    tensors: int
    rng_state: Tensor | None = None
    buffers_sha256: str | None = None
    buffer_tensors: int = 0

    def describe(self) -> str:
        """``TerraMind base, pretrained weights (Hugging Face hub), sha256 0123456789ab``."""
        return f"TerraMind {self.variant}, {self.source}, sha256 {self.sha256[:12]}"

    def matches(self, other: BaseReference) -> bool:
        """Same variant, the same frozen weights and, when both name them, the same frozen buffers
        (the source may differ: a hub file saved locally)."""
        buffers = (self.buffers_sha256, other.buffers_sha256)
        return (
            self.variant == other.variant
            and self.sha256 == other.sha256
            and (None in buffers or buffers[0] == buffers[1])
        )

    def to_checkpoint(self) -> dict[str, Any]:
        """Plain data for the checkpoint (loads with ``torch.load(weights_only=True)``)."""
        return {
            "variant": self.variant,
            "source": self.source,
            "sha256": self.sha256,
            "tensors": self.tensors,
            "rng_state": self.rng_state,
            "buffers_sha256": self.buffers_sha256,
            "buffer_tensors": self.buffer_tensors,
        }

    @classmethod
    def from_checkpoint(cls, entry: Mapping[str, Any]) -> BaseReference:
        """Read :meth:`to_checkpoint`'s data back."""
        return cls(
            variant=entry.get("variant"),
            source=str(entry.get("source")),
            sha256=str(entry.get("sha256")),
            tensors=int(entry.get("tensors", 0)),
            rng_state=entry.get("rng_state"),
            buffers_sha256=entry.get("buffers_sha256"),
            buffer_tensors=int(entry.get("buffer_tensors", 0)),
        )


def frozen_keys(module: nn.Module, prefix: str = "") -> list[str]:
    """State-dict keys (with ``prefix``) of ``module``'s parameters that do not train, tied names included."""
    return sorted(
        prefix + name for name, p in module.named_parameters(remove_duplicate=False) if not p.requires_grad
    )


def frozen_state(module: nn.Module) -> dict[str, Tensor]:
    """``module``'s frozen parameters by state-dict key."""
    state = module.state_dict(keep_vars=True)
    return {key: state[key].detach() for key in frozen_keys(module) if key in state}


def base_buffers(module: nn.Module) -> dict[str, Tensor]:
    """``module``'s persistent buffers that belong to its frozen base, by state-dict key.

    A buffer belongs to the frozen base when the layer that owns it has parameters and none of them
    trains (TerraMind's patch embeddings with their sin-cos position embeddings, its norms with a
    zero bias buffer): the model's constructor rebuilds it. Kept out: buffers of layers without
    parameters (the standardizer's statistics, the model's ``preserves_radiometry`` marker), of
    layers that train, and the running statistics of batch and instance norms, which a forward pass
    in training mode updates.
    """
    state = module.state_dict(keep_vars=True)
    found = {}
    for name, layer in module.named_modules(remove_duplicate=False):
        params = list(layer.parameters())
        if not params or any(p.requires_grad for p in params):
            continue
        for key, _ in layer.named_buffers(prefix=name, recurse=False, remove_duplicate=False):
            if key in state and key.rpartition(".")[2] not in RUNNING_STATISTICS:  # persistent
                found[key] = state[key].detach()
    return found


def weights_hash(tensors: Mapping[str, Tensor]) -> str:
    """SHA-256 over the keys, dtypes, shapes and bytes of ``tensors`` in key order."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        data = tensor.contiguous().view(-1).view(torch.uint8).cpu().numpy()
        digest.update(memoryview(data))
    return digest.hexdigest()


def frozen_hash(module: nn.Module) -> str:
    """:func:`weights_hash` of ``module``'s frozen parameters, cached until one of them changes."""
    return _cached_hash(module, "parameters", frozen_state(module))


def base_buffers_hash(module: nn.Module) -> str:
    """:func:`weights_hash` of :func:`base_buffers`, cached until one of them changes."""
    return _cached_hash(module, "buffers", base_buffers(module))


def _cached_hash(module: nn.Module, kind: str, tensors: Mapping[str, Tensor]) -> str:
    version = tuple((key, t.data_ptr(), tensor_version(t), t.dtype) for key, t in sorted(tensors.items()))
    cached = _HASHES.setdefault(module, {}).get(kind)
    if cached is not None and cached[0] == version:
        return cached[1]
    value = weights_hash(tensors)
    _HASHES[module][kind] = (version, value)
    return value


def weights_source(config: Mapping[str, Any] | None) -> str:
    """Where the base weights of a model config come from: its ``ckpt_path``, the hub, or random."""
    init_args = (config or {}).get("init_args") or {}
    if init_args.get("ckpt_path"):
        return f"ckpt_path {init_args['ckpt_path']}"
    if init_args.get("pretrained", True):
        return "pretrained weights (Hugging Face hub)"
    return RANDOM_SOURCE


def model_config_of(model: nn.Module, config: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """``config`` when it is a ``class_path`` config, else the one the model recorded (or ``None``)."""
    if isinstance(config, Mapping) and "class_path" in config:
        return dict(config)
    return init_config(model)


def reference_of(model: nn.Module, config: Mapping[str, Any] | None = None) -> BaseReference | str:
    """The :class:`BaseReference` of ``model``'s frozen base, or why a new build could not reproduce it.

    Args:
        model: The model (its frozen parameters are the base).
        config: Its ``{"class_path", "init_args"}`` config (default: the one it recorded).

    Returns:
        The reference, or a reason (``str``) when the model has no frozen parameter, no config to be
        rebuilt from, or a random base without a recorded random state.
    """
    config = model_config_of(model, config)
    if config is None:
        return f"{type(model).__name__} records no config to rebuild it from"
    keys = frozen_keys(model)
    if not keys:
        return f"{type(model).__name__} has no frozen parameter"
    source = weights_source(config)
    rng_state = None
    if source == RANDOM_SOURCE:
        rng_state = init_rng_state(model)
        if rng_state is None:
            return (
                "its random base (pretrained: false, no ckpt_path) was built without a recorded random state"
            )
    buffers = base_buffers(model)
    return BaseReference(
        variant=(config.get("init_args") or {}).get("variant"),
        source=source,
        sha256=frozen_hash(model),
        tensors=len(keys),
        rng_state=rng_state,
        buffers_sha256=_cached_hash(model, "buffers", buffers),
        buffer_tensors=len(buffers),
    )


def rebuild(config: Mapping[str, Any], rng_state: Tensor | None) -> nn.Module:
    """Build ``config`` from torch's random state ``rng_state`` when given (restored afterwards).

    A model of this package is built through the closed schema (:mod:`axion_terratorch.models.schema`:
    nothing imported or parsed); another class as LightningCLI does (a trusted run config).
    """
    from axion_terratorch.config import instantiate
    from axion_terratorch.models.schema import ModelConfigError, read_model_config

    try:
        build = read_model_config(config, "the model's config").build
    except ModelConfigError:
        build = functools.partial(instantiate, config, nn.Module, "model")
    if rng_state is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.random.set_rng_state(rng_state)
        return build()


def complete_state_dict(
    state: dict[str, Tensor],
    model: nn.Module,
    saved: BaseReference,
    config: Mapping[str, Any] | None = None,
    prefix: str = "",
    where: str = "checkpoint",
) -> None:
    """Put the frozen base back into the trained-only ``state``, after checking it is the saved one.

    The base is taken from ``model`` when it matches ``saved`` (same variant, same hashes), else,
    for a random base, from a new build of ``config`` from the recorded random state. Its buffers
    are put back too when the checkpoint left them out (``saved.buffers_sha256``).

    Args:
        state: The checkpoint's state dict, completed in place.
        model: The model the state dict will be loaded into.
        saved: The checkpoint's reference.
        config: The model's config, to rebuild a random base (default: the one ``model`` recorded).
        prefix: Prefix of the model's keys in ``state`` (``"model."`` in a task's state dict).
        where: The checkpoint, named in errors.

    Raises:
        BaseMismatchError: If neither ``model`` nor a rebuild has the saved base; one line naming
            both bases.
    """
    current = reference_of(model, config)
    source = model
    if (not isinstance(current, BaseReference) or not current.matches(saved)) and saved.rng_state is not None:
        config = model_config_of(model, config)
        if config is not None:
            source = rebuild(config, saved.rng_state)
            current = reference_of(source, config)
    if not isinstance(current, BaseReference) or not current.matches(saved):
        now = current.describe() if isinstance(current, BaseReference) else f"none ({current})"
        msg = (
            f"{where} was trained on another frozen base: the checkpoint's is {saved.describe()}, "
            f"this model's is {now}; build the model with the checkpoint's variant and weights "
            "(pretrained / ckpt_path) or use a checkpoint saved with checkpoint_weights: full"
        )
        raise BaseMismatchError(msg)
    base = frozen_state(source) | (base_buffers(source) if saved.buffers_sha256 is not None else {})
    state.update({prefix + key: tensor for key, tensor in base.items()})


def save_trained_only(
    checkpoint: dict[str, Any],
    model: nn.Module,
    config: Mapping[str, Any] | None,
    prefix: str,
    owner: nn.Module | None = None,
) -> str | None:
    """Drop ``model``'s frozen base (parameters and :func:`base_buffers`) from a Lightning
    ``checkpoint`` and record its reference.

    Args:
        checkpoint: Lightning's checkpoint dict (``state_dict`` holds the task's weights).
        model: The task's model; its keys carry ``prefix`` in the state dict.
        config: Its config (default: the one it recorded).
        prefix: ``"model."`` for a task.
        owner: The task: its other frozen parameters (e.g. the LPIPS network of the loss, which its
            constructor loads again) are dropped too, and their hash recorded.

    Returns:
        ``None``, or why the checkpoint was left full (the base cannot be rebuilt).
    """
    if not frozen_keys(model):
        return None  # nothing frozen: the checkpoint is whole anyway
    reference = reference_of(model, config)
    if not isinstance(reference, BaseReference):
        return reference
    state = checkpoint["state_dict"]
    for key in [*frozen_keys(model, prefix), *(prefix + key for key in base_buffers(model))]:
        state.pop(key, None)
    entry = reference.to_checkpoint()
    others = _other_frozen(owner, prefix)
    if others:
        for key in others:
            state.pop(key, None)
        entry["others"] = {"sha256": weights_hash(others), "keys": sorted(others)}
    checkpoint[CHECKPOINT_KEY] = entry
    return None


def complete_other_frozen(
    state: dict[str, Tensor], owner: nn.Module, entry: Mapping[str, Any], prefix: str, where: str
) -> None:
    """Put the owner's frozen weights outside the model back into ``state``, checked by their hash.

    Raises:
        BaseMismatchError: If they differ from those the checkpoint was saved with (one line naming them).
    """
    saved = entry.get("others")
    if not saved:
        return
    others = _other_frozen(owner, prefix)
    if sorted(others) != list(saved["keys"]) or weights_hash(others) != saved["sha256"]:
        msg = (
            f"{where} was saved with other frozen weights outside the model ({len(saved['keys'])} tensors, e.g. "
            f"{saved['keys'][0]}, sha256 {saved['sha256'][:12]}) than this task's ({len(others)} tensors, "
            f"sha256 {weights_hash(others)[:12]}); build the loss and metrics as the run did"
        )
        raise BaseMismatchError(msg)
    state.update(others)


def _other_frozen(owner: nn.Module | None, prefix: str) -> dict[str, Tensor]:
    """``owner``'s frozen parameters outside ``prefix`` by state-dict key."""
    if owner is None:
        return {}
    return {key: t for key, t in frozen_state(owner).items() if not key.startswith(prefix)}


def saved_reference(checkpoint: Mapping[str, Any]) -> BaseReference | None:
    """The checkpoint's :class:`BaseReference`, or ``None`` for a full checkpoint."""
    entry = checkpoint.get(CHECKPOINT_KEY)
    return None if entry is None else BaseReference.from_checkpoint(entry)
