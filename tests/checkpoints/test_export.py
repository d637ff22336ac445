import pytest
import torch
import yaml
from inference.scene_data import TINY_CONFIG, scene_arrays, tiny_model, write_checkpoint

from axion_terratorch.checkpoints.export import export_checkpoint, extra_weights, load_export, peft_modules
from axion_terratorch.checkpoints.loading import CheckpointError, build_model, load_model
from axion_terratorch.checkpoints.selection import rank_checkpoints
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    model = tiny_model()
    return model, write_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "run.ckpt")


@pytest.fixture(scope="module")
def image():
    sar, optical = scene_arrays(32, 32)
    return {SAR_KEY: torch.from_numpy(sar)[None], OPTICAL_KEY: torch.from_numpy(optical)[None]}


def base_like(model):
    """A base model from the config with the same frozen (pretrained) weights, fresh adapters and head."""
    base = build_model(TINY_CONFIG)
    frozen = {
        k: v for k, v in model.state_dict().items() if "lora_" not in k and k not in extra_weights(model)
    }
    base.load_state_dict(frozen, strict=False)
    return base


def test_checkpoint_reloads_exactly_with_safe_loading(trained, image):
    model, ckpt = trained
    with torch.no_grad():
        assert torch.equal(load_model(ckpt)(image), model(image))


def test_adapter_export_holds_only_lora_weights_and_reloads_exactly(tmp_path, trained, image):
    model, ckpt = trained
    folder = export_checkpoint(ckpt, tmp_path / "adapter")
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "config.yaml",
        "extra_weights.safetensors",
        "adapter/backbone.encoder/adapter_model.safetensors",
        "adapter/backbone.encoder/adapter_config.json",
    } <= files
    adapter_bytes = (folder / "adapter/backbone.encoder/adapter_model.safetensors").stat().st_size
    assert adapter_bytes < 0.02 * ckpt.stat().st_size
    base = base_like(model)
    with torch.no_grad():
        assert not torch.equal(base(image), model(image))
        assert torch.equal(load_export(folder, base)(image), model(image))
    assert yaml.safe_load((folder / "config.yaml").read_text())["model"] == TINY_CONFIG


def test_adapter_export_of_a_random_base_carries_it_and_round_trips_alone(tmp_path, trained, image):
    # pretrained: false: a rebuilt base would be new random weights, so the export holds the base
    model, ckpt = trained
    folder = export_checkpoint(ckpt, tmp_path / "adapter")
    assert yaml.safe_load((folder / "config.yaml").read_text())["base_weights"] == "base_weights.safetensors"
    with torch.no_grad():
        assert torch.equal(load_export(folder)(image), model(image))


def test_adapter_export_of_a_pretrained_base_carries_only_the_adapter(tmp_path, trained):
    model, _ = trained
    config = {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], "pretrained": True}}
    folder = export_checkpoint(write_checkpoint(model, tmp_path / "pre.ckpt", config), tmp_path / "adapter")
    assert not (folder / "base_weights.safetensors").exists()
    assert "base_weights" not in yaml.safe_load((folder / "config.yaml").read_text())


def test_merged_export_reproduces_the_checkpoint(tmp_path, trained, image):
    model, ckpt = trained
    folder = export_checkpoint(ckpt, tmp_path / "merged", kind="merged")
    merged = load_export(folder)
    assert not peft_modules(merged)
    with torch.no_grad():
        torch.testing.assert_close(merged(image), model(image), atol=1e-5, rtol=0)


def test_export_refuses_an_existing_folder_and_a_trained_base(tmp_path, trained):
    model, ckpt = trained
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="out"):
        export_checkpoint(ckpt, tmp_path / "out")
    config = {
        **TINY_CONFIG,
        "init_args": {**TINY_CONFIG["init_args"], "lora": {"rank": 2, "freeze_base_model": False}},
    }
    with pytest.raises(CheckpointError, match="--merged"):
        export_checkpoint(write_checkpoint(model, tmp_path / "full.ckpt", config), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_checkpoint_without_model_config_names_the_fix(tmp_path):
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1.0}}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="--config"):
        load_model(tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.ckpt")


def fake_checkpoint(path, step, score=None, monitor="val/psnr"):
    callbacks = {}
    if score is not None:
        callbacks[f"ModelCheckpoint{{'monitor': '{monitor}'}}"] = {
            "monitor": monitor,
            "current_score": torch.tensor(score),
        }
    torch.save({"global_step": step, "callbacks": callbacks, "state_dict": {}}, path)
    return path


def test_rank_by_fidelity_uses_the_saved_monitor_score(tmp_path):
    ckpts = [
        fake_checkpoint(tmp_path / f"{s}.ckpt", step, s) for step, s in ((10, 30.0), (20, 32.5), (30, 31.0))
    ]
    ranked = rank_checkpoints(ckpts, run_dir=tmp_path)
    assert [r.path.name for r in ranked] == ["32.5.ckpt", "31.0.ckpt", "30.0.ckpt"]


def test_rank_by_composite_reads_the_csv_logs(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "metrics.csv").write_text(
        "epoch,step,train/loss,val/sar_agreement,val/sar_agreement_excess,val/ssim\n"
        "0,5,0.9,,,\n0,9,,0.30,0.00,0.80\n1,19,,0.60,0.25,0.85\n"
    )
    ckpts = [fake_checkpoint(tmp_path / f"s{step}.ckpt", step) for step in (10, 20)]
    by_agreement = rank_checkpoints(ckpts, "sar_agreement", tmp_path)
    assert by_agreement[0].path.name == "s20.ckpt"
    composite = rank_checkpoints(ckpts, "composite", tmp_path)  # 0.80 - 0 beats 0.85 - 0.25: excess costs
    assert composite[0].path.name == "s10.ckpt"
    assert composite[0].score == pytest.approx(0.80)
    assert set(composite[0].metrics) == {"val/sar_agreement_excess", "val/ssim"}
    (tmp_path / "empty").mkdir()
    lone = fake_checkpoint(tmp_path / "empty" / "a.ckpt", 1)
    with pytest.raises(ValueError, match="no val/psnr"):
        rank_checkpoints([lone], run_dir=tmp_path / "empty")
