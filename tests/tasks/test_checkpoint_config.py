"""A checkpoint of a task trained in plain Python reloads from the file alone."""

import lightning.pytorch as pl
import pytest
import torch

from axion_terratorch import SARGroundingTask
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.inference import load_model
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding

BANDS = ("B02", "B03", "B04", "B08")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(
        variant="tiny", pretrained=False, bands=BANDS, decoder_channels=8, lora=LoraSettings(rank=4, alpha=8)
    )
    task = SARGroundingTask(
        model,
        loss=Stage3Loss(bands=BANDS, use_lpips=False),
        metrics=GroundingMetrics(bands=BANDS, lpips=False),
    )
    data = SyntheticGroundingDataModule(
        num_train=2, num_val=2, num_test=2, tile_size=32, bands=BANDS, batch_size=2
    )
    root = tmp_path_factory.mktemp("run")
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=1,
        limit_val_batches=1,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, data)
    path = root / "plain.ckpt"
    trainer.save_checkpoint(path)
    data.setup("fit")
    return task.eval(), path, next(iter(data.val_dataloader()))["image"]


def test_load_from_checkpoint_needs_only_the_file(trained):
    task, path, image = trained
    reloaded = SARGroundingTask.load_from_checkpoint(path, map_location="cpu").eval()
    assert isinstance(reloaded.model, TerraMindResidualGrounding)
    assert "lpips" not in reloaded.loss.terms
    assert reloaded.hparams["loss"]["init_args"]["use_lpips"] is False  # the loss as configured
    with torch.no_grad():
        assert torch.equal(reloaded(image), task(image))


def test_load_model_reads_the_recorded_config(trained):
    task, path, image = trained
    model = load_model(path)
    with torch.no_grad():
        assert torch.equal(model(image), task(image))
