"""``axion-stage3 train``: the seed's flags drive a real terratorch ``fit`` run."""

import subprocess
import sys

import pytest
import torch
import yaml

from axion_terratorch.cli import main

from run_configs import REPO

FAST = ["--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1"]


def checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.slow
def test_seed_flags_reach_the_run(demo_config, tmp_path):
    out = tmp_path / "out"
    args = ["train", "--config", str(demo_config), "--output-dir", str(out), "--lr", "5e-4"]
    assert main([*args, "--lora-rank", "4", "--max-steps", "2", *FAST]) == 0
    ckpt = checkpoint(out / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 2
    assert ckpt["hyper_parameters"]["lr"] == 5e-4
    lora_a = [v for k, v in ckpt["state_dict"].items() if "lora_A" in k]
    assert lora_a
    assert all(v.shape[0] == 4 for v in lora_a)
    assert list(out.glob("csv/version_*/metrics.csv"))
    # --resume continues the same run: the step counter goes on from the checkpoint.
    resumed = [
        "train",
        "--config",
        str(demo_config),
        "--output-dir",
        str(out),
        "--lr",
        "5e-4",
        "--lora-rank",
        "4",
    ]
    assert (
        main([*resumed, "--max-steps", "4", "--resume", str(out / "checkpoints" / "last.ckpt"), *FAST]) == 0
    )
    assert checkpoint(out / "checkpoints" / "last.ckpt")["global_step"] == 4


def test_print_config_shows_the_flags_applied(demo_config, capsys):
    assert (
        main(["train", "--config", str(demo_config), "--lr", "0.25", "--max-steps", "7", "--print-config"])
        == 0
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["lr"] == 0.25
    assert printed["trainer"]["max_steps"] == 7


def test_validate_config_accepts_the_demo(demo_config, capsys):
    assert main(["train", "--config", str(demo_config), "--validate-config"]) == 0
    assert "valid" in capsys.readouterr().out
    assert not (demo_config.parent / "checkpoints").exists()  # nothing trained


@pytest.mark.parametrize(
    ("flags", "error", "match"),
    [
        (
            ["--trainer.min_steps=10", "--max-steps", "5"],
            ValueError,
            r"trainer\.min_steps \(10\).*max_steps \(5\)",
        ),
        (["--lora-rank", "0"], ValueError, r"lora\.rank"),
        (["--data-dir", "tiles/"], ValueError, "SyntheticGroundingDataModule takes no data directory"),
        (["--resume", "missing.ckpt"], FileNotFoundError, "missing.ckpt"),
    ],
)
def test_validate_config_refuses_impossible_values_by_name(demo_config, flags, error, match):
    with pytest.raises(error, match=match):
        main(["train", "--config", str(demo_config), "--validate-config", *flags])


def test_missing_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        main(["train", "--config", str(tmp_path / "nope.yaml")])


@pytest.mark.slow
def test_seed_command_as_written_resolves_the_seed_config():
    """The seed's ``--config configs/train/stage3.lowvr.yaml --data-dir tiles/ --output-dir ...``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "axion_terratorch.cli",
            "train",
            "--config",
            "configs/train/stage3.lowvr.yaml",
            "--data-dir",
            "my_tiles/",
            "--output-dir",
            "checkpoints/stage3/",
            "--lr",
            "5e-5",
            "--print-config",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    printed = yaml.safe_load(result.stdout)
    assert printed["model"]["init_args"]["model"]["class_path"].endswith("TerraMindGenerativeGrounding")
    assert printed["model"]["init_args"]["scheduler"] == "axion_terratorch.schedulers.WarmupCosineLR"
    assert printed["model"]["init_args"]["lr"] == 5e-5
    assert printed["data"]["init_args"]["root"] == "my_tiles"
    assert printed["trainer"]["default_root_dir"] == "checkpoints/stage3"
    # logs and checkpoints follow the root (docs/training.md): the config names no other folder
    assert {c["init_args"].get("dirpath") for c in printed["trainer"]["callbacks"]} == {None}
    assert {logger["init_args"].get("save_dir") for logger in printed["trainer"]["logger"]} == {None}


@pytest.mark.parametrize(
    ("flag", "named"),
    [
        ("--trainer.precision=fp12", "precision"),
        ("--trainer.max_stepz=3", "max_stepz"),
        ("--model.init_args.loss.init_args.cycle_weight=-1", "cycle_weight"),
        (r"--model.init_args.model.init_args.lora.target_modules=.*q_proj", "target_modules"),
    ],
)
def test_wrong_keys_and_values_stop_before_training_naming_the_key(demo_config, capsys, flag, named):
    with pytest.raises((SystemExit, ValueError)) as error:
        main(["train", "--config", str(demo_config), "--validate-config", flag])
    message = str(error.value) + capsys.readouterr().err
    assert named in message
    assert not (demo_config.parent / "checkpoints").exists()
