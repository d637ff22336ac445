"""torch's private dispatch-mode and pytree helpers, called against the installed torch."""

import torch

from axion_terratorch.compat.torch import TorchDispatchMode, dispatch_mode_class, tensor_version, tree_leaves


def test_a_dispatch_mode_sees_every_operation():
    class Ops(dispatch_mode_class()):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(func.__name__)
            return func(*args, **(kwargs or {}))

    with Ops() as ops:
        (torch.ones(3) * 2).sum()
    assert any(name.startswith("mul") for name in ops.names)
    assert any(name.startswith("sum") for name in ops.names)
    assert TorchDispatchMode is dispatch_mode_class()


def test_tree_leaves_flattens_nested_arguments():
    tensor = torch.zeros(1)
    assert tree_leaves(((1, [tensor]), {"a": 3})) == [1, tensor, 3]


def test_tensor_version_counts_in_place_writes():
    tensor = torch.zeros(2)
    before = tensor_version(tensor)
    tensor.add_(1)
    assert tensor_version(tensor) == before + 1
    assert tensor_version(tensor.clone()) == 0
