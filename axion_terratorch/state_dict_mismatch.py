"""Say why a checkpoint's weights do not fit a model: tensors of another shape, config keys that differ.

Used where a checkpoint meets a model built from a config (``axion-stage3 predict``/``evaluate``/
``export`` and resuming with ``terratorch fit --ckpt_path``), so a checkpoint of another model
configuration (decoder width, LoRA rank, band count) is refused with the keys at fault instead of
torch's list of every size mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

#: At most this many differences are named in a message.
SHOWN = 3


def shape_mismatches(model_state: Mapping[str, Tensor], checkpoint_state: Mapping[str, Tensor]) -> list[str]:
    """``"<key>: (a, b) in the checkpoint, (c, d) in the model"`` for each shared key of another shape."""
    return [
        f"{key}: {tuple(value.shape)} in the checkpoint, {tuple(model_state[key].shape)} in the model"
        for key, value in checkpoint_state.items()
        if key in model_state and tuple(model_state[key].shape) != tuple(value.shape)
    ]


def config_differences(checkpoint: Any, current: Any, prefix: str = "") -> list[str]:
    """``"<dotted key>: <checkpoint value> in the checkpoint, <current value> now"`` for each leaf that differs."""
    if isinstance(checkpoint, Mapping) and isinstance(current, Mapping):
        found = []
        for key in list(checkpoint) + [k for k in current if k not in checkpoint]:
            path = f"{prefix}.{key}" if prefix else str(key)
            found += config_differences(checkpoint.get(key), current.get(key), path)
        return found
    if _plain(checkpoint) != _plain(current):
        return [f"{prefix}: {checkpoint!r} in the checkpoint, {current!r} now"]
    return []


def summary(items: list[str]) -> str:
    """The first :data:`SHOWN` items joined with ``"; "``, and how many more there are."""
    more = f" (and {len(items) - SHOWN} more)" if len(items) > SHOWN else ""
    return "; ".join(items[:SHOWN]) + more


def _plain(value: Any) -> Any:
    """Tuples as lists, so a config read from YAML compares equal to the parsed one."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
