"""End to end through terratorch's own CLI, in-process (``build_lightning_cli``, the function the
``terratorch`` command runs; the command itself runs in ``tests/training/test_ddp.py``)."""

import csv
import re
from pathlib import Path

import pytest
import torch
import yaml
from stand_in import Brightness
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch import SARGroundingTask
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.missing_inputs import MissingInputsError

from run_configs import FAST_FIT as FAST


def logged_rows(run_dir: Path) -> list[dict[str, str]]:
    (metrics_csv,) = run_dir.glob("csv/version_*/metrics.csv")
    with metrics_csv.open() as f:
        return list(csv.DictReader(f))


def logged_metrics(run_dir: Path) -> set[str]:
    return {key for row in logged_rows(run_dir) for key, value in row.items() if value}


def test_fit_trains_validates_logs_and_checkpoints(demo_run):
    run_dir, cli = demo_run.run_dir, demo_run.cli
    task = cli.model
    assert isinstance(task, SARGroundingTask)
    assert isinstance(task.loss, Stage3Loss)  # a class_path loss arrives as a module
    assert isinstance(task.loss.terms["brightness"], Brightness)
    assert cli.trainer.global_step == 2
    logged = logged_metrics(run_dir)
    weights = {
        "sar_hinge": 1.0,
        "cycle": 0.5,
        "identity": 0.3,
        "spectral": 1.0,
        "ssim": 1.0,
        "brightness": 0.25,
    }
    for row in (row for row in logged_rows(run_dir) if row["train/loss"]):  # the user's term is in the total
        total = sum(w * float(row[f"train/loss/{name}"]) for name, w in weights.items())
        assert float(row["train/loss"]) == pytest.approx(total, rel=1e-5)
    for key in (
        "train/loss",
        "train/loss/brightness",
        "val/loss/brightness",
        "train/loss/sar_hinge",
        "train/loss/cycle_identity",
        "train/loss/spectral",
        "train/loss/ssim",
        "val/loss",
        "val/sar_agreement",
        "val/sar_agreement_gain",
        "val/sar_agreement_target",
        "val/sar_agreement_excess",
        "val/copy_of_sar_ratio",
        "val/psnr_gain",
        "val/ssim_gain",
        "val/psnr",
        "val/ssim",
        "val/sam",
        "lr-AdamW",
    ):
        assert key in logged, key
    assert not {k for k in logged if k.startswith("loss/")}  # training terms live under train/loss/
    assert (
        not {"train/loss/total", "train/loss/lpips"} & logged
    )  # no duplicate of train/loss, no LPIPS when off
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_checkpoint_holds_the_configs_the_yaml_gave(demo_run):
    given = yaml.safe_load(demo_run.config.read_text())["model"]["init_args"]
    checkpoint = torch.load(demo_run.checkpoint, weights_only=False)
    saved = checkpoint["hyper_parameters"]
    for name in ("model", "loss"):
        assert saved[name]["class_path"] == given[name]["class_path"]
        for key, value in given[name].get("init_args", {}).items():
            stored = saved[name]["init_args"][key]
            if isinstance(value, dict):  # defaults the YAML leaves out are filled in
                stored = {k: stored[k] for k in value}
            assert stored == value, (name, key)


def test_checkpoint_reloads_and_reproduces_outputs(demo_run):
    """The run's loss has a term of the user's own (``stand_in.Brightness``): trusted by name."""
    cli = demo_run.cli
    reloaded = SARGroundingTask.load_from_checkpoint(
        demo_run.checkpoint, map_location="cpu", weights_only=False, trust_class_paths=["stand_in.Brightness"]
    )
    batch = next(iter(cli.datamodule.val_dataloader()))
    cli.model.eval()
    reloaded.eval()
    with torch.no_grad():
        assert torch.equal(cli.model(batch["image"]), reloaded(batch["image"]))


def test_resume_with_another_model_configuration_names_the_tensors(demo_run, demo_config):
    """``fit --ckpt_path`` with weights of another LoRA rank or decoder width than the config's model.

    LightningCLI rebuilds the model from a checkpoint's ``hyper_parameters`` when it has them, so the
    case arises with a checkpoint without them (saved by hand or by another tool).
    """
    checkpoint = torch.load(demo_run.checkpoint, weights_only=True)
    del checkpoint["hyper_parameters"]
    bare = demo_config.parent / "bare.ckpt"
    torch.save(checkpoint, bare)
    for key, value, tensor in (
        ("lora", {"rank": 4, "alpha": 8}, "lora_A"),
        ("decoder_channels", 16, "decoder"),
    ):
        config = yaml.safe_load(demo_config.read_text())
        config["model"]["init_args"]["model"]["init_args"][key] = value
        other = demo_config.with_name(f"other_{key}.yaml")
        other.write_text(yaml.safe_dump(config))
        with pytest.raises(ValueError, match="trained with another model configuration") as error:
            build_lightning_cli(["fit", "-c", str(other), *FAST, f"--ckpt_path={bare}"])
        assert re.search(
            rf"{tensor}\S*: \(\d+(, \d+)*\) in the checkpoint, \(\d+(, \d+)*\) in the model", str(error.value)
        )
        assert "Resume with the config it was trained with" in str(error.value)


def test_missing_weights_and_data_folder_are_one_line_before_the_build(demo_config, tmp_path, monkeypatch):
    """``terratorch fit`` offline, without the weights and without the data folder: both in one line.

    The run exits (``SystemExit``: Python prints the line, no traceback) before the model is built.
    """
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    config = yaml.safe_load(demo_config.read_text())
    config["model"]["init_args"]["model"]["init_args"]["pretrained"] = True
    tiles = tmp_path / "tiles"
    config["data"] = {
        "class_path": "axion_terratorch.datamodules.NpzTileDataModule",
        "init_args": {"root": str(tiles)},
    }
    demo_config.write_text(yaml.safe_dump(config))
    with pytest.raises(MissingInputsError) as error:
        build_lightning_cli(["fit", "-c", str(demo_config)])
    message = error.value.code
    assert isinstance(message, str)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"terratorch fit: error: data.init_args.root {tiles}: no such folder")
    assert "terramind_v1_tiny" in message
    assert "not in the Hugging Face cache and HF_HUB_OFFLINE is set" in message
