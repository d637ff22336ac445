"""``axion-stage3 train --smoke``: every shipped config trains two steps on the CPU, offline."""

import pytest
import torch
import yaml

from axion_terratorch.cli import main

from run_configs import REPO

# training configs; configs/train/stage3.lowvr.yaml links to configs/stage3.lowvr.yaml (the seed guide's path)
SHIPPED = sorted(path for path in REPO.glob("configs/**/stage3.*.yaml") if not path.is_symlink())


def checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.parametrize("config", SHIPPED, ids=[str(p.relative_to(REPO / "configs")) for p in SHIPPED])
def test_smoke_run_of_each_shipped_config_trains_and_checkpoints(config, tmp_path, capsys):
    out = tmp_path / "smoke"
    assert main(["train", "--config", str(config), "--smoke", "--output-dir", str(out)]) == 0
    assert "smoke run passed: 2 optimizer steps" in capsys.readouterr().out
    ckpts = sorted(out.rglob("*.ckpt"))
    assert ckpts  # in the output folder, nowhere else
    sizes = {c.name: c.stat().st_size for c in ckpts}
    state = checkpoint(ckpts[-1])
    assert "frozen_base" in state  # the frozen TerraMind is referenced, not stored
    weights = sum(v.numel() * v.element_size() for v in state["state_dict"].values())
    assert max(sizes.values()) < 3.3 * weights + 2**20, sizes  # the weights and AdamW's two moments
    assert max(sizes.values()) <= 5 * 2**20, sizes  # the target at tiny, for every shipped config
    assert state["global_step"] == 2
    # the adapters trained: with B initialised to zero, a non-zero B proves gradients arrived
    lora_b = [value for key, value in state["state_dict"].items() if "lora_B" in key]
    assert lora_b
    assert any(value.any() for value in lora_b)


def test_smoke_lists_what_it_changed(tmp_path, capsys):
    config = REPO / "configs" / "stage3.lowvr.yaml"
    args = ["train", "--config", str(config), "--smoke", "--output-dir", str(tmp_path), "--print-config"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for edit in (
        "pretrained: false",
        "use_lpips: false",
        "synthetic scenes",
        "warmup_steps: 0 (scaled from 500)",
    ):
        assert edit in printed
    assert "stand_in_decoder: true" in printed


def test_smoke_caps_gradient_steps_at_its_single_timestep(tmp_path, capsys):
    config = yaml.safe_load((REPO / "configs" / "stage3.lowvr.yaml").read_text())
    config["model"]["init_args"]["model"]["init_args"]["gradient_steps"] = 2
    path = tmp_path / "lowvr.truncated.yaml"
    path.write_text(yaml.safe_dump(config))
    args = [
        "train",
        "--config",
        str(path),
        "--smoke",
        "--output-dir",
        str(tmp_path / "out"),
        "--print-config",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "gradient_steps: 1 (at most timesteps)" in printed
