"""Count tensor memory on any device: what autograd saves for backward, and the peak of live tensors.

Both meters work on the CPU, where there is no allocator statistic such as
``torch.cuda.max_memory_allocated``. They count tensor storages (the bytes a tensor owns), each
once however many views share it, so a convolution that saves its input and a view of it counts the
input once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from typing_extensions import Self

from axion_terratorch.compat.torch import TorchDispatchMode, tree_leaves

logger = logging.getLogger(__name__)


def storage_key(tensor: Tensor) -> tuple[str, int]:
    """Identity of the storage behind ``tensor``: ``(device, data pointer)``."""
    storage = tensor.untyped_storage()
    return str(storage.device), storage.data_ptr()


def storage_bytes(tensors: Iterable[Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views and aliases counted once)."""
    seen: dict[tuple[str, int], int] = {}
    for tensor in tensors:
        if tensor.device.type != "meta":
            seen[storage_key(tensor)] = tensor.untyped_storage().nbytes()
    return sum(seen.values())


class SavedTensorMeter:
    """Bytes of the tensors autograd saves for backward while the context is active.

    Uses ``torch.autograd.graph.saved_tensors_hooks``: every tensor an operation saves for its
    backward passes through the pack hook, which records its storage (once per storage) and returns
    the tensor unchanged. Storages listed in ``exclude`` (the parameters and buffers, which are
    resident anyway and are counted as weights) are skipped. Tensors saved inside a
    ``torch.utils.checkpoint`` region are not kept (the region is recomputed in the backward pass),
    so they do not pass through these hooks and are not counted.

    Args:
        exclude: Tensors whose storages are not activations (e.g. ``module.parameters()``).

    Example:
        >>> layer = torch.nn.Linear(4, 4)
        >>> with SavedTensorMeter(exclude=layer.parameters()) as meter:
        ...     out = layer(torch.ones(2, 4)).relu()
        >>> meter.bytes  # the input of the linear layer and the output of relu, 2 x 4 float32 each
        64
    """

    def __init__(self, exclude: Iterable[Tensor] = ()) -> None:
        self._exclude = {storage_key(t) for t in exclude if t.device.type != "meta"}
        self._saved: dict[tuple[str, int], int] = {}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack)

    @property
    def bytes(self) -> int:
        """Bytes saved so far, each storage once."""
        return sum(self._saved.values())

    def _pack(self, tensor: Tensor) -> Tensor:
        if tensor.device.type != "meta":
            key = storage_key(tensor)
            if key not in self._exclude:
                self._saved[key] = tensor.untyped_storage().nbytes()
        return tensor

    def __enter__(self) -> Self:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)


def _unpack(tensor: Tensor) -> Tensor:
    return tensor


class PeakTensorMeter(TorchDispatchMode):
    """Peak of the bytes of live tensors allocated while the context is active.

    A ``TorchDispatchMode`` sees every operation (the backward pass and the recomputation of
    checkpointed regions included). Each output storage that none of the operation's inputs already
    owns is a new allocation: it is added to the live total and removed when the storage is freed
    (a weak reference callback). Tensors that existed before the context (weights, optimizer state,
    preallocated gradients) are not counted. The result is what the caching allocator's peak would
    show minus its rounding and fragmentation, on any device.

    Attributes:
        peak: Highest live total seen, in bytes.
        current: Live total now, in bytes.

    Example:
        >>> with PeakTensorMeter() as meter:
        ...     a = torch.ones(1024)  # 4 KiB
        ...     b = a * 2  # 4 KiB more
        ...     del a, b
        >>> meter.peak, meter.current
        (8192, 0)
    """

    def __init__(self) -> None:
        super().__init__()
        self.peak = 0
        self.current = 0
        self._live: dict[int, weakref.ref] = {}

    def _release(self, key: int, nbytes: int) -> Any:
        def callback(ref: weakref.ref) -> None:
            if self._live.get(key) is ref:
                del self._live[key]
                self.current -= nbytes

        return callback

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        inputs = {
            storage_key(t)
            for t in tree_leaves((args, kwargs))
            if isinstance(t, Tensor) and t.device.type != "meta"
        }
        for tensor in tree_leaves(out):
            if not isinstance(tensor, Tensor) or tensor.device.type == "meta":
                continue
            if storage_key(tensor) in inputs:  # a view or an in-place result: no new memory
                continue
            storage = tensor.untyped_storage()
            key = id(storage)
            if key in self._live and self._live[key]() is storage:
                continue
            nbytes = storage.nbytes()
            self._live[key] = weakref.ref(storage, self._release(key, nbytes))
            self.current += nbytes
            self.peak = max(self.peak, self.current)
        return out
