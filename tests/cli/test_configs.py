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


#: Callbacks that write logs or panels (as opposed to checkpoints and guards).
LOGGING_CALLBACKS = {
    "axion_terratorch.callbacks.ExampleImages",
    "lightning.pytorch.callbacks.LearningRateMonitor",
}


def _logging(config):
    trainer = yaml.safe_load(config.read_text())["trainer"]
    callbacks = {entry["class_path"] for entry in trainer.get("callbacks", [])}
    return {entry["class_path"] for entry in trainer.get("logger", [])} | (callbacks & LOGGING_CALLBACKS)


@pytest.mark.parametrize("config", sorted((REPO / "configs").rglob("stage3*.yaml")), ids=lambda p: p.name)
def test_every_run_config_writes_the_demos_logs_and_panels(config):
    assert _logging(config) == _logging(REPO / "configs" / "stage3.demo.yaml")  # TensorBoard, CSV, lr, panels
