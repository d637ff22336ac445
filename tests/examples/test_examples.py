"""The examples run as documented, at tiny size."""

import csv

import torch
from terratorch.cli_tools import build_lightning_cli
from terratorch.tasks import SemanticSegmentationTask

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
