"""jsonargparse's import helper and YAML loader, called against the installed jsonargparse."""

import pytest
from jsonargparse import ArgumentParser
from torch import nn

from axion_terratorch.compat.jsonargparse import import_object, set_yaml_loader, yaml_loader


def test_import_object_resolves_a_class_path():
    assert import_object("torch.nn.Linear") is nn.Linear


def test_import_object_refuses_a_missing_name():
    with pytest.raises((ImportError, AttributeError, ValueError)):
        import_object("torch.nn.NoSuchLayer")


def test_the_yaml_loader_can_be_read_and_replaced():
    original = yaml_loader()
    assert original("a: 1e-3\nb: 2020-01-01") == {"a": 1e-3, "b": "2020-01-01"}  # its own resolvers
    calls = []

    def recording(text):
        calls.append(text)
        return original(text)

    set_yaml_loader(recording)
    try:
        assert yaml_loader() is recording
        parser = ArgumentParser(exit_on_error=False)
        parser.add_argument("--value", type=dict)
        assert parser.parse_args(["--value", "{a: 1}"]).value == {"a": 1}
        assert "{a: 1}" in calls
    finally:
        set_yaml_loader(original)
    assert yaml_loader() is original
