"""A checkpoint of a task trained in plain Python reloads from the file alone; a LoRA run's
checkpoints hold only what it trained, and rebuild the frozen base they name."""

import lightning.pytorch as pl
import pytest
import torch

from axion_terratorch import SARGroundingTask
from axion_terratorch.checkpoints import CheckpointError, load_model
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding
from axion_terratorch.models.base_reference import CHECKPOINT_KEY, BaseMismatchError, base_buffers

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
    task.checkpoint_weights = "full"
    trainer.save_checkpoint(root / "full.ckpt")
    task.checkpoint_weights = "trained"
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


def test_lora_checkpoint_holds_what_trained_and_names_its_base(trained):
    task, path, _ = trained
    saved = torch.load(path, weights_only=True)
    params = dict(task.model.named_parameters())
    trained_keys = {f"model.{k}" for k, p in params.items() if p.requires_grad}
    buffers = {f"model.{k}" for k, _ in task.model.named_buffers()}
    base_buffers = {k for k in buffers if k.startswith("model.backbone.")}
    assert any(k.endswith(".pos_emb") for k in base_buffers)  # TerraMind's position embeddings
    model_keys = {k for k in saved["state_dict"] if k.startswith("model.")}
    # adapters, decoder, head, radiometry marker, standardizer; not the frozen TerraMind's buffers
    assert model_keys == trained_keys | (buffers - base_buffers)
    assert "model.preserves_radiometry" in model_keys
    assert saved["optimizer_states"]
    assert saved["loops"]
    base = saved[CHECKPOINT_KEY]
    assert base["variant"] == "tiny"
    assert base["source"].startswith("random init")
    assert len(base["sha256"]) == 64
    assert len(base["buffers_sha256"]) == 64
    assert base["buffer_tensors"] == len(base_buffers)
    full = path.with_name("full.ckpt")
    assert path.stat().st_size < 5 * 2**20 < full.stat().st_size


def test_full_checkpoint_weights_keep_every_weight(trained):
    task, path, _ = trained
    saved = torch.load(path.with_name("full.ckpt"), weights_only=True)
    assert CHECKPOINT_KEY not in saved
    assert saved["state_dict"].keys() == task.state_dict().keys()


def test_trained_only_and_full_checkpoints_reload_to_the_same_output(trained):
    task, path, image = trained
    full = path.with_name("full.ckpt")
    with torch.no_grad():
        expected = task(image)
        for ckpt in (path, full):
            assert torch.equal(
                SARGroundingTask.load_from_checkpoint(ckpt, map_location="cpu").eval()(image), expected
            )
            assert torch.equal(load_model(ckpt)(image), expected)  # what predict, evaluate and export use


def test_checkpoint_holding_the_base_buffers_still_loads(trained, tmp_path):
    """A trained-only checkpoint saved before the frozen layers' buffers were left out holds them
    and names no hash of them."""
    task, path, image = trained
    saved = torch.load(path, weights_only=True)
    for key, value in base_buffers(task.model).items():
        assert f"model.{key}" not in saved["state_dict"]
        saved["state_dict"][f"model.{key}"] = value.clone()
    saved[CHECKPOINT_KEY].update(buffers_sha256=None, buffer_tensors=0)
    torch.save(saved, tmp_path / "with_buffers.ckpt")
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "with_buffers.ckpt")(image), task(image))


@pytest.fixture
def other_base(trained, tmp_path):
    """The trained-only checkpoint, as if its random base had been drawn from another seed."""
    _, path, _ = trained
    saved = torch.load(path, weights_only=True)
    generator = torch.Generator().manual_seed(1)
    saved[CHECKPOINT_KEY]["rng_state"] = generator.get_state()
    other = tmp_path / "other_base.ckpt"
    torch.save(saved, other)
    return other, saved[CHECKPOINT_KEY]["sha256"][:12]


def test_checkpoint_of_another_base_is_refused_naming_both(other_base):
    path, checkpoint_hash = other_base
    with pytest.raises(
        CheckpointError, match=rf"another frozen base: .*{checkpoint_hash}.*this model's is TerraMind tiny"
    ) as caught:
        load_model(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(BaseMismatchError, match=checkpoint_hash):
        SARGroundingTask.load_from_checkpoint(path, map_location="cpu")


def test_missing_base_source_is_named_in_one_line(trained, tmp_path):
    _, path, _ = trained
    saved = torch.load(path, weights_only=True)
    missing = tmp_path / "TerraMind_v1_tiny.pt"
    saved["hyper_parameters"]["model"]["init_args"]["ckpt_path"] = str(missing)
    saved[CHECKPOINT_KEY].update(source=f"ckpt_path {missing}", rng_state=None)
    torch.save(saved, tmp_path / "needs_file.ckpt")
    with pytest.raises(CheckpointError, match=rf"needs its frozen base from ckpt_path {missing}") as caught:
        load_model(tmp_path / "needs_file.ckpt")
    assert "\n" not in str(caught.value)


def test_checkpoint_weights_setting_is_checked(trained):
    task, _, _ = trained
    with pytest.raises(ValueError, match="checkpoint_weights must be one of"):
        SARGroundingTask(task.model, checkpoint_weights="adapters")
