"""A run interrupted and resumed logs the same losses as one never interrupted (same seed)."""

import csv

import pytest
import torch
import yaml
from lightning.pytorch import Callback
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.datamodules.sampling import ResumableRandomSampler

from run_configs import REPO, tiny_run_config

CRASH = "simulated crash"
#: 8 tiles in batches of 2: 4 optimizer steps per epoch.
RUN = ["--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1"]


class CrashAt(Callback):
    """Stand-in for a killed process: fail before optimizer step ``step`` (after its checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError(CRASH)


def train_losses(run_dir):
    losses = {}
    for metrics_csv in sorted(run_dir.glob("csv/version_*/metrics.csv")):
        with metrics_csv.open() as f:
            for row in csv.DictReader(f):
                if row.get("train/loss"):
                    losses[int(row["step"])] = float(row["train/loss"])
    return losses


def run(tmp_path, name, *args, crash_at=None):
    config = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml",
        tmp_path / name,
        num_train=8,
        num_val=2,
        tile_size=32,
        batch_size=2,
    )
    settings = yaml.safe_load(config.read_text())
    for callback in settings["trainer"]["callbacks"]:
        if callback["class_path"].endswith("ModelCheckpoint"):
            # last.ckpt after every optimizer step, as a run's step checkpoints would be
            callback["init_args"] = {
                "dirpath": callback["init_args"]["dirpath"],
                "save_last": True,
                "every_n_train_steps": 1,
                "save_top_k": 0,
            }
    if crash_at is not None:
        settings["trainer"]["callbacks"].append(
            {"class_path": "test_resume.CrashAt", "init_args": {"step": crash_at}}
        )
    config.write_text(yaml.safe_dump(settings))
    build_lightning_cli(["fit", "-c", str(config), *RUN, *args])
    return tmp_path / name


@pytest.mark.parametrize("interrupt_at", [2, 4], ids=["mid-epoch", "epoch-end"])
def test_resumed_run_logs_the_same_losses(tmp_path, interrupt_at):
    reference = train_losses(run(tmp_path, "reference", "--trainer.max_steps=6"))
    with pytest.raises(RuntimeError, match=CRASH):
        run(tmp_path, "interrupted", "--trainer.max_steps=6", crash_at=interrupt_at)
    first = tmp_path / "interrupted"
    ckpt = first / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=False)["global_step"] == interrupt_at
    run(tmp_path, "interrupted", "--trainer.max_steps=6", f"--ckpt_path={ckpt}")
    resumed = train_losses(first)
    assert sorted(reference) == sorted(resumed) == list(range(6))
    for step in range(6):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-7), step


def test_sampler_order_depends_only_on_seed_and_epoch():
    sampler = ResumableRandomSampler(range(10), seed=3)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch1) == list(range(10))
    assert list(sampler) == epoch1
    sampler.set_epoch(2)
    assert list(sampler) != epoch1
    sampler.set_epoch(1)
    sampler.skip(4)
    assert list(sampler) == epoch1[4:]
    assert list(sampler) == epoch1  # the skip applies once
    assert list(ResumableRandomSampler(range(10), seed=4)) != list(ResumableRandomSampler(range(10), seed=3))
