"""torch private modules: the dispatch mode and pytree helpers the tensor meters use.

Checked with torch 2.14.1. Upstream paths are relative to ``torch/``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from axion_terratorch.compat import attribute, module

LIBRARY = "torch"


def dispatch_mode_class() -> type:
    """``TorchDispatchMode``, the base of modes that see every tensor operation.

    Reads ``utils/_python_dispatch.py`` (torch 2.14.1).
    """
    name = "torch.utils._python_dispatch"
    return attribute(LIBRARY, module(LIBRARY, name), "TorchDispatchMode", name)


@cache
def _tree_leaves() -> Callable[[Any], list[Any]]:
    name = "torch.utils._pytree"
    return attribute(LIBRARY, module(LIBRARY, name), "tree_leaves", name)


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of a nested structure of tuples, lists and dicts.

    Reads ``tree_leaves`` of ``utils/_pytree.py`` (torch 2.14.1; looked up once, called per
    operation by the tensor meters).
    """
    return _tree_leaves()(tree)


#: ``TorchDispatchMode`` (:func:`dispatch_mode_class`), as a base class.
TorchDispatchMode = dispatch_mode_class()


def tensor_version(tensor: Any) -> int:
    """The in-place modification counter of ``tensor``: it rises with every in-place write.

    Reads ``Tensor._version`` (torch 2.14.1), which autograd uses to detect modified saved tensors.
    """
    return int(attribute(LIBRARY, tensor, "_version", "Tensor"))
