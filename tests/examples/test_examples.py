"""The examples run as documented, at tiny size."""

import csv

import torch
import yaml
from terratorch.cli_tools import build_lightning_cli
from terratorch.tasks import SemanticSegmentationTask
from tile_writers import write_npz

from axion_terratorch.datasets.windows import SampleIndex

from run_configs import REPO, tiny_run_config

FAST = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]


def test_lora_backbone_trains_inside_terratorch_segmentation_task(tmp_path, recwarn):
    config = tiny_run_config(
        REPO / "examples" / "segmentation_lora_backbone.yaml",
        tmp_path,
        num_train=4,
        num_val=2,
        tile_size=32,
        batch_size=2,
    )
    cli = build_lightning_cli(["fit", "-c", str(config), *FAST])
    assert isinstance(cli.model, SemanticSegmentationTask)
    trainable = [n for n, p in cli.model.model.encoder.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in n for n in trainable)
    (metrics_csv,) = tmp_path.glob("csv/version_*/metrics.csv")
    with metrics_csv.open() as f:
        logged = {k for row in csv.DictReader(f) for k, v in row.items() if v}
    assert "train/loss" in logged
    assert "val/loss" in logged
    assert not [w for w in recwarn if "Cannot infer grid shape" in str(w.message)]  # neck set as needed


def test_research_subclass_trains_from_yaml(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    config = tiny_run_config(
        REPO / "examples" / "tv_grounding.yaml",
        tmp_path,
        num_train=4,
        num_val=2,
        tile_size=32,
        batch_size=2,
    )
    cli = build_lightning_cli(["fit", "-c", str(config), *FAST, "--model.init_args.tv_weight=0.5"])
    task = cli.model
    assert type(task).__name__ == "TotalVariationGroundingTask"
    assert task.tv_weight == 0.5
    batch = next(iter(cli.datamodule.val_dataloader()))
    output = task(batch["image"])
    terms = task.compute_loss(output, batch)
    parent = super(type(task), task).compute_loss(output, batch)
    assert torch.allclose(terms["loss"], parent["loss"] + 0.5 * terms["total_variation"])
    assert terms["total_variation"] > 0


def test_an_error_model_of_ones_own_from_yaml_is_drawn_into_the_proxy(tmp_path, monkeypatch):
    """``examples/mosaic_seams.py`` by ``class_path`` in ``tiles.stage2_errors`` trains through
    ``terratorch fit``: its seam is in every sample's ``error_mask``, drawn anew per training read, and
    fixed for validation."""
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    monkeypatch.chdir(REPO)
    write_npz(tmp_path / "tiles", "a", size=48, split="train")
    write_npz(tmp_path / "tiles", "c", size=48, seed=2, split="train")
    write_npz(tmp_path / "tiles", "b", size=48, seed=1, split="val")
    seams = {"class_path": "mosaic_seams.MosaicSeams", "init_args": {"max_gain": 0.2}}
    tiles = {"tile_size": 48, "stage2_dir": None, "stage2_proxy": True, "resample_proxy": True}
    config = tmp_path / "seams.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "init_args": {"root": str(tmp_path / "tiles"), "tiles": {**tiles, "stage2_errors": seams}}
                }
            }
        )
    )
    args = ["-c", "configs/stage3.demo.yaml", "-c", "configs/data/npz.yaml", "-c", str(config)]
    run = [*FAST, "--data.init_args.batch_size=1", f"--trainer.default_root_dir={tmp_path / 'run'}"]
    cli = build_lightning_cli(["fit", *args, *run])
    assert cli.trainer.global_step == 2
    errors = cli.datamodule.tiles.stage2_errors
    assert type(errors).__name__ == "MosaicSeams"
    assert errors.max_gain == 0.2
    masks = [cli.datamodule.train_dataset[SampleIndex(0, seed)]["error_mask"] for seed in (1, 2)]
    masks.append(cli.datamodule.val_dataset[0]["error_mask"])
    for mask in masks:
        assert set(mask.unique().tolist()) == {0.0, 1.0}  # one side of a seam
    assert not torch.equal(masks[0], masks[1])
    assert torch.equal(masks[2], cli.datamodule.val_dataset[0]["error_mask"])
