"""SARGroundingTask in plain Python: defaults, band checks, optimiser, hparams, the loss hook."""

import pytest
import torch

from axion_terratorch import SARGroundingTask
from axion_terratorch import lpips as lpips_module
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import TerraMindResidualGrounding

BANDS = ("B02", "B03", "B04", "B08", "B11")


def offline_task(model, **kwargs) -> SARGroundingTask:
    """A task with LPIPS off in loss and metrics (its backbone weights need a download)."""
    kwargs.setdefault("loss", Stage3Loss(bands=BANDS, use_lpips=False))
    kwargs.setdefault("metrics", GroundingMetrics(bands=BANDS, lpips=False))
    return SARGroundingTask(model, **kwargs)


@pytest.fixture(scope="module")
def model():
    return TerraMindResidualGrounding(variant="tiny", pretrained=False, bands=BANDS, decoder_channels=8)


@pytest.fixture(scope="module")
def batch():
    dm = SyntheticGroundingDataModule(
        num_train=2, num_val=2, num_test=2, tile_size=32, bands=BANDS, batch_size=2
    )
    dm.setup("fit")
    return next(iter(dm.val_dataloader()))


def test_default_loss_and_metrics_follow_the_model_bands(model, monkeypatch):
    # The defaults include LPIPS (the seed's) when its weights are on the machine; a random backbone
    # stands in for them here.
    real_build = lpips_module.build_lpips
    monkeypatch.setattr(lpips_module, "backbone_on_disk", lambda net: True)
    monkeypatch.setattr(lpips_module, "build_lpips", lambda net, pretrained_backbone: real_build(net, False))
    with pytest.warns(UserWarning, match="randomly initialised backbone"):
        task = SARGroundingTask(model)
    assert "lpips" in task.loss.terms
    assert "lpips_change" in task.val_metrics
    assert task.loss.bands == BANDS
    assert task.val_metrics.bands == BANDS
    assert task.val_metrics is not task.test_metrics


def test_loss_and_metrics_built_without_bands_compute_on_the_model_bands(model, batch):
    # The config writes the bands once, in the model: loss and metrics take them from the task.
    loss = Stage3Loss(use_lpips=False, sar_objective="unbounded", sar_excess_weight=0.1)
    metrics = GroundingMetrics(lpips=False, target_metrics=["psnr", "mae"])
    task = SARGroundingTask(model, loss=loss, metrics=metrics)
    assert {part.bands for part in task.loss.modules() if hasattr(part, "bands")} == {BANDS}
    assert task.val_metrics.bands == task.test_metrics.bands == BANDS
    terms = task.compute_loss(task(batch["image"]), batch)
    assert torch.isfinite(terms["loss"])
    task.validation_step(batch, 0)
    values = task.val_metrics.compute()
    assert {"psnr", "mae", "sar_agreement"} <= set(values)
    assert task.val_metrics["mae"].total.numel() == len(BANDS)
    assert task.hparams["loss"]["init_args"]["bands"] is None  # rebuilt from a checkpoint, it follows again


@pytest.mark.parametrize("part", ["loss", "metrics"])
def test_bands_given_to_a_part_must_be_the_model_bands(model, part):
    other = ("B02", "B03", "B04", "B08")
    parts = {
        "loss": Stage3Loss(use_lpips=False),
        "metrics": GroundingMetrics(lpips=False),
    }
    parts[part] = (
        Stage3Loss(bands=other, use_lpips=False)
        if part == "loss"
        else GroundingMetrics(bands=other, lpips=False)
    )
    with pytest.raises(ValueError, match=rf"{part} is configured for bands .* but the model for"):
        SARGroundingTask(model, **parts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lr": 0}, "lr"), ({"optimizer": "Adamm"}, "Adamm"), ({"error_weight": -1}, "error_weight")],
)
def test_bad_optimiser_settings_name_the_key(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        offline_task(model, **kwargs)


def test_optimiser_holds_only_trainable_parameters_with_seed_defaults(model):
    task = offline_task(model, lr=1e-4)
    optimizer = task.configure_optimizers()["optimizer"]
    assert isinstance(optimizer, torch.optim.AdamW)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert sum(p.numel() for p in params) == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-5
    assert optimizer.param_groups[0]["lr"] == 1e-4


def test_plain_python_hparams_hold_module_configs_not_modules(model):
    task = offline_task(model, lr=3e-4)
    assert task.hparams["lr"] == 3e-4
    assert (
        task.hparams["model"]["class_path"]
        == "axion_terratorch.models.residual_grounding.TerraMindResidualGrounding"
    )
    assert task.hparams["model"]["init_args"]["bands"] == list(BANDS)
    assert task.hparams["loss"]["init_args"]["use_lpips"] is False
    assert task.hparams["metrics"]["init_args"]["lpips"] is False
    assert not any(isinstance(value, torch.nn.Module) for value in task.hparams.values())


def test_compute_loss_reads_target_and_mask_keys(model, batch):
    task = offline_task(model)
    output = task(batch["image"])
    with_target = task.compute_loss(output, batch)
    assert with_target["spectral"] > 0  # the untrained model returns the degraded input
    renamed = offline_task(model, target_key="s2_truth")
    assert renamed.compute_loss(output, batch)["spectral"] == 0  # no "s2_truth" in the batch
    with_truth = renamed.compute_loss(output, {**batch, "s2_truth": batch["target"]})
    assert torch.equal(with_truth["spectral"], with_target["spectral"])


def test_validation_updates_metrics_that_compute_against_the_target(model, batch):
    task = offline_task(model)
    task.validation_step(batch, 0)
    values = task.val_metrics.compute()
    assert values["sar_agreement_gain"] == pytest.approx(0.0, abs=1e-6)  # identity at init
    assert torch.isfinite(values["psnr"])
    assert values["psnr"] > 10
    assert values["psnr_gain"] == 0  # the output is the input
    assert values["ssim_gain"] == pytest.approx(0.0, abs=1e-6)
    for name in ("sar_agreement_target", "sar_agreement_excess", "copy_of_sar_ratio"):
        assert torch.isfinite(values[name]), name


def test_loss_terms_are_fidelity_first_without_duplicates(model, batch):
    task = offline_task(model)
    terms = task.compute_loss(task(batch["image"]), batch)
    assert set(terms) == {
        "loss",
        "sar_hinge",
        "cycle",
        "identity",
        "spectral",
        "ssim",
        "cycle_identity",
    }
    assert task.loss.sar_objective == "hinge"
    assert terms["ssim"] > 0  # the untrained model returns the degraded input


def test_error_weight_raises_the_loss_where_the_stage2_errors_are(model, batch):
    """With ``error_weight`` the pixels the Stage 2 errors changed weigh more in the loss; without
    an error mask in the batch, or at weight 0, the loss is the plain valid-pixel one."""
    task = offline_task(model, error_weight=4.0)
    output = task(batch["image"])
    plain = offline_task(model).compute_loss(output, batch)
    assert torch.equal(task.compute_loss(output, batch)["spectral"], plain["spectral"])  # no error mask
    errors = torch.zeros_like(batch["valid_mask"], dtype=torch.float32)
    errors[..., :8, :] = 1.0
    with_errors = {**batch, "error_mask": errors}
    weight = task.loss_mask(with_errors)
    assert torch.equal(weight, batch["valid_mask"].float() * (1 + 4.0 * errors))
    spectral = (output - batch["target"]).abs().mean(dim=1, keepdim=True)
    expected = (spectral * weight).sum() / weight.sum()
    assert task.compute_loss(output, with_errors)["spectral"].detach().item() == pytest.approx(
        expected.detach().item(), rel=1e-5
    )
    assert offline_task(model).loss_mask(with_errors) is batch["valid_mask"]


def test_gate_weight_teaches_the_model_gate_with_the_error_mask(batch):
    """A gated model's gate is scored against the batch's error mask (binary cross-entropy over valid
    pixels) and added to the loss by ``gate_weight``; without the weight, or a batch without an error
    mask, nothing is added."""
    gated = TerraMindResidualGrounding(
        variant="tiny", pretrained=False, bands=BANDS, decoder_channels=8, gate=True
    )
    task = offline_task(gated, gate_weight=0.5)
    errors = torch.zeros_like(batch["valid_mask"], dtype=torch.float32)
    errors[..., :8, :] = 1.0
    with_errors = {**batch, "error_mask": errors}
    terms = task.compute_loss(task(batch["image"]), with_errors)
    gate = gated.last_gate.detach().clamp(1e-6, 1 - 1e-6)
    expected = -(errors * gate.log() + (1 - errors) * (1 - gate).log()).mean()
    assert terms["gate"].detach().item() == pytest.approx(expected.detach().item(), rel=1e-4)
    plain = offline_task(gated).compute_loss(task(batch["image"]), with_errors)
    assert "gate" not in plain
    combined = plain["loss"].detach().item() + 0.5 * expected.item()
    assert terms["loss"].detach().item() == pytest.approx(combined, rel=1e-4)
    without_mask = {key: value for key, value in batch.items() if key != "error_mask"}
    assert "gate" not in task.compute_loss(task(batch["image"]), without_mask)


@pytest.mark.slow
def test_terms_weighted_zero_are_logged_as_monitored_and_the_bar_shows_the_gains(model, tmp_path):
    from lightning.pytorch import Trainer

    from axion_terratorch.callbacks import StepProgressBar

    loss = Stage3Loss(bands=BANDS, use_lpips=False, sar_consistency_weight=0.0)
    task = offline_task(model, loss=loss)
    data = SyntheticGroundingDataModule(
        num_train=2, num_val=2, num_test=2, tile_size=32, bands=BANDS, batch_size=2
    )
    trainer = Trainer(
        max_epochs=-1,  # bounded by steps only, as the real recipe
        max_steps=1,
        limit_val_batches=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, data)
    logged = set(trainer.callback_metrics)
    assert {
        "train/monitor/sar_hinge",
        "val/monitor/sar_hinge",
    } <= logged  # weight 0: not trained on
    assert not {"train/loss/sar_hinge", "val/loss/sar_hinge"} & logged
    assert {"train/loss/spectral", "train/loss/cycle_identity"} <= logged
    assert {"val/psnr", "val/psnr_gain", "val/sar_agreement", "val/sar_agreement_excess"} <= set(
        trainer.progress_bar_metrics
    )
    bar = trainer.progress_bar_callback
    assert isinstance(bar, StepProgressBar)
    assert bar._get_train_description(3).strip() == "Epoch 3 (max_steps 1)"  # not "Epoch 3/-2"
