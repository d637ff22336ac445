"""One path records the task's module configs: the run's LightningCLI configuration, else the module's own."""

import logging
from types import SimpleNamespace

from jsonargparse import Namespace
from lightning.pytorch.cli import SaveConfigCallback
from torch import nn

from axion_terratorch.losses import Stage3Loss
from axion_terratorch.tasks.checkpointing import record_module_configs

YAML_MODEL = {"class_path": "my_package.Model", "init_args": {"width": 3}}


def trainer_of_a_cli_run(model_config: dict | None) -> SimpleNamespace:
    init_args = Namespace(model=Namespace(**model_config) if model_config else None, loss=None)
    config = Namespace(model=Namespace(class_path="axion_terratorch.SARGroundingTask", init_args=init_args))
    return SimpleNamespace(callbacks=[SaveConfigCallback(parser=None, config=config)])


def test_the_yaml_config_wins_and_the_module_s_own_fills_in(caplog):
    hparams: dict = {}
    loss = Stage3Loss(use_lpips=False)
    with caplog.at_level(logging.WARNING):
        record_module_configs(
            hparams, {"model": nn.Conv2d(1, 1, 1), "loss": loss}, trainer_of_a_cli_run(YAML_MODEL)
        )
    assert hparams["model"] == YAML_MODEL
    assert hparams["loss"]["class_path"].endswith("Stage3Loss")  # not in the YAML: recorded by itself
    assert hparams["loss"]["init_args"]["use_lpips"] is False
    assert not caplog.records


def test_a_model_without_any_config_is_named_once_the_run_is_known(caplog):
    hparams: dict = {}
    with caplog.at_level(logging.WARNING):
        record_module_configs(
            hparams, {"model": nn.Conv2d(1, 1, 1)}
        )  # built in Python: the run may be a CLI's
        assert not caplog.records
        record_module_configs(hparams, {"model": nn.Conv2d(1, 1, 1)}, trainer_of_a_cli_run(None))
    assert "model" not in hparams
    assert "Conv2d records no config" in caplog.text
