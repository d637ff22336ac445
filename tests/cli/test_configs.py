"""Every shipped config parses in terratorch's CLI (``--print_config`` resolves without building)."""

import contextlib
import io

import pytest
import yaml
from terratorch.cli_tools import build_lightning_cli

from run_configs import REPO

CONFIGS = sorted((REPO / "configs").rglob("stage3*.yaml")) + sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_resolves(config, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        build_lightning_cli(["fit", "-c", str(config), "--print_config"])
    assert exit_info.value.code in (0, None)
    resolved = yaml.safe_load(out.getvalue())
    assert resolved["model"]["class_path"]
    assert resolved["data"]["class_path"]
