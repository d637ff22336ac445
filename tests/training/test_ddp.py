"""The ``terratorch`` command, as users run it, with Lightning DDP on two CPU processes (gloo):
synchronised metrics, files from rank 0 only. The suite's one run of the console script (other
tests call the function it runs, ``build_lightning_cli``, in-process)."""

import csv
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest

from axion_terratorch import SARGroundingTask
from axion_terratorch.datamodules import SyntheticGroundingDataModule

from run_configs import REPO, tiny_run_config

pytestmark = pytest.mark.slow


def test_terratorch_command_runs_the_demo_config_on_two_processes_as_one_evaluates(tmp_path):
    config = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml", tmp_path, num_train=8, num_val=4, tile_size=32, batch_size=2
    )
    terratorch = Path(sys.executable).with_name("terratorch")
    result = subprocess.run(
        [
            str(terratorch),
            "fit",
            "-c",
            str(config),
            "--trainer.strategy=ddp",
            "--trainer.devices=2",
            "--trainer.accelerator=cpu",
            "--trainer.max_epochs=1",
            "--trainer.log_every_n_steps=1",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Trainable parameters:" in result.stdout + result.stderr
    # Only rank 0 wrote logs and checkpoints.
    assert len(list(tmp_path.glob("csv/version_*"))) == 1
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    with next(tmp_path.glob("csv/version_*/metrics.csv")).open() as f:
        logged = [float(r["val/sar_agreement"]) for r in csv.DictReader(f) if r.get("val/sar_agreement")]
    assert len(logged) == 1
    # The checkpoint loads on one device, and its metric over all four validation tiles equals the
    # value synchronised across the two processes (each saw two tiles).
    task = SARGroundingTask.load_from_checkpoint(ckpt, map_location="cpu")
    datamodule = SyntheticGroundingDataModule(num_train=8, num_val=4, tile_size=32, batch_size=2)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    (single,) = trainer.validate(task, datamodule=datamodule, verbose=False)
    assert single["val/sar_agreement"] == pytest.approx(logged[0], abs=1e-5)
