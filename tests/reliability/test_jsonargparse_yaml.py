"""``config.bound_jsonargparse_yaml``: jsonargparse (LightningCLI's parser) refuses an alias bomb in a
config file or a file named as an option value at once, and reads every other YAML as before."""

import time

import pytest
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser
from reliability.test_outputs_and_bounds import ALIAS_BOMB
from torch import nn

from axion_terratorch.compat.jsonargparse import set_yaml_loader, yaml_loader
from axion_terratorch.config import bound_jsonargparse_yaml

#: Values jsonargparse's own loader reads its way (its float resolver; no timestamps).
ORDINARY = "trainer:\n  lr: 1e-3\n  day: 2020-01-01\n  steps: 4\n  names: [VV, VH]\n"


def parser() -> ArgumentParser:
    """A parser shaped like LightningCLI's: a config file option, a section, and a module option that
    takes a file (``--model model.yaml``)."""
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("-c", "--config", action=ActionConfigFile)
    parser.add_argument("--trainer", type=dict)
    parser.add_subclass_arguments(nn.Module, "model")
    return parser


@pytest.fixture
def bounded():
    original = yaml_loader()
    bound_jsonargparse_yaml()
    bound_jsonargparse_yaml()  # a second install wraps once
    yield original
    set_yaml_loader(original)


def test_ordinary_yaml_is_read_as_before(tmp_path, bounded):
    path = tmp_path / "run.yaml"
    path.write_text(ORDINARY)
    assert yaml_loader()(ORDINARY) == bounded(ORDINARY)
    assert parser().parse_args(["-c", str(path)]).trainer == {
        "lr": 1e-3,
        "day": "2020-01-01",
        "steps": 4,
        "names": ["VV", "VH"],
    }
    assert parser().parse_args(["--trainer", "{steps: 2}"]).trainer == {"steps": 2}
    for loader in (yaml_loader(), bounded):  # the error jsonargparse falls back on, as before
        with pytest.raises(yaml.YAMLError):
            loader("not: valid: yaml")


@pytest.mark.parametrize("where", ["config", "option"])
def test_an_alias_bomb_is_refused_at_once(tmp_path, bounded, where):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        ALIAS_BOMB if where == "option" else f"trainer:\n  {ALIAS_BOMB.replace(chr(10), chr(10) + '  ')}"
    )
    args = ["-c", str(bomb)] if where == "config" else ["--model", str(bomb)]
    start = time.perf_counter()
    with pytest.raises(Exception, match=r"the YAML expands to [\d,]+ nodes .* refused \(an alias bomb\?\)"):
        parser().parse_args(args)
    assert time.perf_counter() - start < 1.0
