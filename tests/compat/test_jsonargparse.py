"""jsonargparse's import helper, called against the installed jsonargparse."""

import pytest
from torch import nn

from axion_terratorch.compat.jsonargparse import import_object


def test_import_object_resolves_a_class_path():
    assert import_object("torch.nn.Linear") is nn.Linear


def test_import_object_refuses_a_missing_name():
    with pytest.raises((ImportError, AttributeError, ValueError)):
        import_object("torch.nn.NoSuchLayer")
