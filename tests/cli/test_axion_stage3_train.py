"""``axion-stage3 train``: the seed's flags drive a real terratorch ``fit`` run."""

import json
import re
import time
from pathlib import Path

import numpy as np
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


def one_line_error(capsys, code):
    """The command's exit status is 2 and stderr is one line without a traceback; return that line."""
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--trainer.min_steps=10", "--max-steps", "5"], r"trainer\.min_steps \(10\).*max_steps \(5\)"),
        (["--lora-rank", "0"], r"lora\.rank"),
        (["--data.init_args.batch_size=-2"], r"batch_size must be >= 1, got -2"),
        (["--data-dir", "."], "SyntheticGroundingDataModule takes no data directory"),
        (["--resume", "missing.ckpt"], "missing.ckpt"),
    ],
)
def test_validate_config_refuses_impossible_values_in_one_line(demo_config, capsys, flags, match):
    code = main(["train", "--config", str(demo_config), "--validate-config", *flags])
    assert re.search(match, one_line_error(capsys, code))


def test_missing_or_malformed_config_is_one_line_naming_the_file(tmp_path, capsys):
    code = main(["train", "--config", str(tmp_path / "nope.yaml")])
    assert "nope.yaml: file not found" in one_line_error(capsys, code)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n  trainer: {")
    code = main(["train", "--config", str(broken)])
    assert "broken.yaml: not valid YAML at line" in one_line_error(capsys, code)


def npz_config(demo_config, root, stage2_dir):
    """The demo config reading NPZ tiles under ``root`` with Stage 2 outputs in ``stage2_dir``."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for name, split in (("a", "train"), ("b", "train"), ("c", "val")):
        arrays = {f"s1_{p}": rng.uniform(-20, -5, (32, 32)).astype(np.float32) for p in ("vv", "vh")}
        arrays |= {f"s2_b{b}": rng.integers(300, 3000, (32, 32)).astype(np.uint16) for b in (2, 3, 4, 8)}
        np.savez(root / f"{name}.npz", **arrays)
        (root / f"{name}.json").write_text(json.dumps({"split": split}))
    config = yaml.safe_load(demo_config.read_text())
    tiles = {"bands": ["B02", "B03", "B04", "B08"], "tile_size": 32, "stage2_dir": str(stage2_dir)}
    config["data"] = {
        "class_path": "axion_terratorch.datamodules.NpzTileDataModule",
        "init_args": {"root": str(root), "tiles": tiles, "batch_size": 2},
    }
    demo_config.write_text(yaml.safe_dump(config))
    return demo_config


def test_validate_config_runs_the_data_path_checks_of_fit(demo_config, tmp_path, capsys):
    """A missing ``stage2_dir`` is refused by ``--validate-config`` as ``fit`` refuses it."""
    config = npz_config(demo_config, tmp_path / "tiles", tmp_path / "no_such_stage2")
    code = main(["train", "--config", str(config), "--validate-config"])
    assert re.search(r"tiles\.stage2_dir=\S*no_such_stage2 is not a folder", one_line_error(capsys, code))
    (tmp_path / "no_such_stage2").mkdir()  # the folder exists but holds no Stage 2 output of a tile
    code = main(["train", "--config", str(config), "--validate-config"])
    assert "no Stage 2 output in stage2_dir=" in one_line_error(capsys, code)


def test_missing_data_folder_is_one_line(demo_config, tmp_path, capsys):
    config = npz_config(demo_config, tmp_path / "tiles", tmp_path)
    code = main(["train", "--config", str(config), "--data-dir", str(tmp_path / "gone")])
    assert re.search(r"gone", one_line_error(capsys, code))


def test_seed_command_as_written_resolves_the_seed_config(monkeypatch, capsys):
    """The seed's ``--config configs/train/stage3.lowvr.yaml --data-dir tiles/ --output-dir ...``,
    run from the checkout (in-process: the command's parsing is tested, not the interpreter start)."""
    monkeypatch.chdir(REPO)
    code = main(
        [
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
        ]
    )
    assert code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
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
    try:
        code = main(["train", "--config", str(demo_config), "--validate-config", flag])
    except SystemExit as error:  # jsonargparse's usage error (exit status 2)
        code = error.code
    assert code == 2
    message = capsys.readouterr().err
    assert named in message
    assert "Traceback" not in message
    assert not (demo_config.parent / "checkpoints").exists()


def test_missing_data_dir_or_unwritable_output_is_refused_before_the_build(demo_config, tmp_path, capsys):
    start = time.perf_counter()
    code = main(["train", "--config", str(demo_config), "--data-dir", str(tmp_path / "tiles")])
    assert one_line_error(capsys, code).endswith(
        f"--data-dir {tmp_path / 'tiles'}: no such folder (from {Path.cwd()})"
    )
    (tmp_path / "file").write_text("")
    code = main(["train", "--config", str(demo_config), "--output-dir", str(tmp_path / "file")])
    assert "--output-dir" in one_line_error(capsys, code)
    assert time.perf_counter() - start < 2  # nothing was built


def test_missing_pretrained_weights_offline_is_one_line_without_retries(
    demo_config, tmp_path, capsys, monkeypatch
):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    config = yaml.safe_load(demo_config.read_text())
    config["model"]["init_args"]["model"]["init_args"]["pretrained"] = True
    demo_config.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    code = main(["train", "--config", str(demo_config), "--validate-config"])
    line = one_line_error(capsys, code)
    assert "terramind_v1_tiny" in line
    assert "not in the Hugging Face cache and HF_HUB_OFFLINE is set" in line
    assert time.perf_counter() - start < 20  # no download retries (they take about 25 s)
