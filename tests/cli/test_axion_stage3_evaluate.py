"""``axion-stage3 evaluate`` in-process over the synthetic data module."""

import csv
import json

import pytest
import torch
import yaml
from inference.scene_data import tiny_model, write_checkpoint
from tile_writers import write_npz

from axion_terratorch.cli import main

#: What the commands print when the LPIPS backbone weights are not on the machine (after "LPIPS left out: ").
NO_WEIGHTS = "torchvision's 'alex' weights are not in {hub}/checkpoints; --lpips downloads them and adds it"
DATA = {
    "data": {
        "class_path": "axion_terratorch.datamodules.SyntheticGroundingDataModule",
        "init_args": {"num_train": 1, "num_val": 1, "num_test": 4, "tile_size": 32, "batch_size": 2},
    }
}


@pytest.mark.slow
def test_evaluate_checkpoint_identity_and_compare(tmp_path, capsys):
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(DATA))
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    common = ["--data", str(data), "--no-lpips", "--quiet"]
    assert main(["evaluate", "--identity", "--output-dir", str(tmp_path / "identity"), *common]) == 0
    baseline = tmp_path / "identity" / "tiles.csv"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--output-dir",
                str(tmp_path / "model"),
                "--baseline",
                str(baseline),
                *common,
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "model" / "summary.json").read_text())
    assert summary["n_tiles"] == 4
    assert summary["model"] == str(ckpt)
    assert summary["copy_of_sar_guard"]["ratio_mean"] is not None
    assert (tmp_path / "model" / "comparison.json").is_file()
    assert sorted(p.name for p in (tmp_path / "model").glob("panel_*.png")) == [
        "panel_best.png",
        "panel_median.png",
        "panel_worst.png",
    ]
    capsys.readouterr()
    assert main(["evaluate", "--compare", str(baseline), str(tmp_path / "model" / "tiles.csv")]) == 0
    assert "Cohen's d" in capsys.readouterr().out


def test_evaluate_needs_data_and_output(tmp_path, capsys):
    assert main(["evaluate", "--identity"]) == 2
    assert "--data" in capsys.readouterr().err


def test_tiles_are_named_by_their_files(tmp_path, monkeypatch, capsys, recwarn):
    names = [f"patch_{i}" for i in range(3)]
    for seed, name in enumerate(names):
        write_npz(tmp_path / "tiles", name, size=32, seed=seed, split="test")
    config = {
        "data": {
            "class_path": "axion_terratorch.datamodules.NpzTileDataModule",
            "init_args": {
                "root": str(tmp_path / "tiles"),
                "tiles": {"tile_size": 32, "stage2_proxy": True},
                "batch_size": 2,
            },
        }
    }
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(config))
    out = tmp_path / "report"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no LPIPS weights here
    args = ["evaluate", "--identity", "--data", str(data), "--output-dir", str(out), "--quiet"]
    assert main(args) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"LPIPS left out: {NO_WEIGHTS.format(hub=tmp_path / 'hub')}"
    ]  # no download, no warning
    assert not [w for w in recwarn.list if "lpips" in str(w.message).lower() or "download" in str(w.message)]
    with (out / "tiles.csv").open() as f:
        assert sorted(row["tile"] for row in csv.DictReader(f)) == names
    panels = json.loads((out / "summary.json").read_text())["panels"]
    assert {panel["tile"] for panel in panels.values()} <= set(names)
