"""``last.ckpt`` of the shipped configs is the true last state, and a run stopped at ``max_steps`` and
resumed with more steps trains as one run would (the demo config through ``terratorch fit``)."""

import csv

import pytest
import torch
import yaml
from terratorch.cli_tools import build_lightning_cli

from run_configs import REPO, STAND_IN, logged_train_losses, tiny_run_config

#: 4 training tiles in batches of 2: 2 optimizer steps per epoch, validation after each epoch.
RUN = ["--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1", "--trainer.max_epochs=-1"]


def demo_run(out_dir, last_checkpoint=True):
    """The demo config whose best checkpoint "peaks" at the first validation (``step``, min)."""
    config = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml", out_dir, num_train=4, num_val=2, tile_size=32, batch_size=2
    )
    settings = yaml.safe_load(config.read_text())
    settings["model"]["init_args"]["model"] = STAND_IN  # the loop's checkpoints are tested, not the model
    callbacks = settings["trainer"]["callbacks"]
    for callback in callbacks:
        if callback["class_path"].endswith("ModelCheckpoint"):
            callback["init_args"].update(monitor="step", mode="min")
            if not last_checkpoint:  # the configs before: Lightning's own save_last
                callback["init_args"]["save_last"] = True
    if not last_checkpoint:
        settings["trainer"]["callbacks"] = [
            c for c in callbacks if not c["class_path"].endswith("LastCheckpoint")
        ]
    config.write_text(yaml.safe_dump(settings))
    return config


def fit(config, *args):
    build_lightning_cli(["fit", "-c", str(config), *RUN, *args])


def step_of(path):
    return torch.load(path, weights_only=True, mmap=True)["global_step"]


def test_every_shipped_training_config_writes_a_true_last_checkpoint():
    configs = [
        *sorted((REPO / "configs").glob("stage3*.yaml")),
        *sorted((REPO / "configs" / "train").glob("*.yaml")),
    ]
    configs += [REPO / "examples" / name for name in ("tv_grounding.yaml", "segmentation_lora_backbone.yaml")]
    for path in configs:
        callbacks = yaml.safe_load(path.read_text())["trainer"].get("callbacks") or []
        names = [c["class_path"].rpartition(".")[2] for c in callbacks]
        assert names.count("LastCheckpoint") == 1, path
        assert not any(c.get("init_args", {}).get("save_last") for c in callbacks), path  # one writer


def test_last_ckpt_holds_the_final_step_after_an_early_peak_and_resume_continues_there(tmp_path):
    before = tmp_path / "lightning_save_last"
    fit(demo_run(before, last_checkpoint=False), "--trainer.max_steps=6")
    assert step_of(before / "checkpoints" / "last.ckpt") == 2  # Lightning 2.6: only with a new best

    run = tmp_path / "run"
    config = demo_run(run)
    fit(config, "--trainer.max_steps=5")  # validations at steps 2 and 4, the end at step 5
    checkpoints = run / "checkpoints"
    assert step_of(checkpoints / "epoch=0-step=2.ckpt") == 2  # the best stays the early one
    assert step_of(checkpoints / "last.ckpt") == 5
    fit(config, "--trainer.max_steps=8", f"--ckpt_path={checkpoints / 'last.ckpt'}")
    assert step_of(checkpoints / "last.ckpt") == 8
    versions = sorted(run.glob("csv/version_*/metrics.csv"))
    assert len(versions) == 2
    resumed = logged_train_losses(run)
    assert sorted(resumed) == list(range(8))
    with versions[1].open() as f:
        second = sorted(int(row["step"]) for row in csv.DictReader(f) if row.get("train/loss"))
    assert second == [5, 6, 7]  # continued at the last step: nothing redone

    reference = tmp_path / "reference"
    fit(demo_run(reference), "--trainer.max_steps=8")
    expected = logged_train_losses(reference)
    for step in range(8):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-7), step
