"""The lowvr configs' run features (accumulation, clipping, mixed precision, schedule, validation
interval, early stopping held back by min_steps, step checkpoints) at tiny scale, through the CLI."""

import csv
import itertools

import pytest
import yaml
from terratorch.cli_tools import build_lightning_cli

from run_configs import REPO, STAND_IN, tiny_run_config

pytestmark = pytest.mark.slow


def seed_run_config(tmp_path):
    """The stand-in model, the demo data, and the trainer, callbacks and schedule of the residual lowvr config."""
    config_path = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml", tmp_path, num_train=16, num_val=2, tile_size=32, batch_size=1
    )
    config = yaml.safe_load(config_path.read_text())
    lowvr = yaml.safe_load((REPO / "configs" / "stage3.residual.lowvr.yaml").read_text())
    trainer = {**lowvr["trainer"], "accelerator": "cpu", "default_root_dir": str(tmp_path)}
    trainer["logger"] = config["trainer"]["logger"]  # checkpoints follow default_root_dir
    config["trainer"] = trainer
    model = config["model"]["init_args"]
    model["model"] = STAND_IN  # the loop's features are tested, not the model
    for key in ("optimizer", "optimizer_hparams", "scheduler", "scheduler_hparams"):
        model[key] = lowvr["model"]["init_args"][key]
    model["scheduler_hparams"]["warmup_steps"] = 2
    config_path.write_text(yaml.safe_dump(config))
    return config_path


def scale_down(callbacks):
    """The lowvr callbacks with tiny-run numbers; early stopping that never sees an improvement."""
    for callback in callbacks:
        name, args = callback["class_path"].rsplit(".", 1)[-1], callback.setdefault("init_args", {})
        if name == "ModelCheckpoint" and "every_n_train_steps" in args:
            args.update(every_n_train_steps=2, save_top_k=2)
        elif name == "EarlyStopping":
            args.update(patience=1, min_delta=10.0)
        elif name == "ExampleImages":
            args.update(num_tiles=1)


@pytest.mark.parametrize(("min_steps", "stopped_at"), [(0, 4), (6, 6)])
def test_seed_run_features_at_tiny_scale(tmp_path, min_steps, stopped_at):
    config = seed_run_config(tmp_path)
    settings = yaml.safe_load(config.read_text())
    scale_down(settings["trainer"]["callbacks"])
    config.write_text(yaml.safe_dump(settings))
    cli = build_lightning_cli(
        [
            "fit",
            "-c",
            str(config),
            # 2 batches per optimizer step; validation every 2 optimizer steps (4 batches).
            "--trainer.accumulate_grad_batches=2",
            "--trainer.val_check_interval=4",
            "--trainer.max_steps=8",
            f"--trainer.min_steps={min_steps}",
            "--trainer.log_every_n_steps=1",
            "--trainer.limit_val_batches=1",
            "--trainer.min_epochs=0",  # Lightning's default (1 when min_steps is unset) would hold it too
        ]
    )
    trainer = cli.trainer
    assert trainer.precision == "bf16-mixed"  # 16-mixed runs as bf16 on the CPU
    assert trainer.gradient_clip_val == 1.0
    # Early stopping (patience 1, nothing ever improves) stops at the second validation, step 4,
    # unless min_steps holds it back.
    assert trainer.global_step == stopped_at
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    newest_two = [f"checkpoint_{stopped_at - 2}.ckpt", f"checkpoint_{stopped_at}.ckpt"]
    assert set(newest_two) <= set(names)
    assert "last.ckpt" in names
    assert any(n.startswith("best-") for n in names)
    with next(tmp_path.glob("csv/version_*/metrics.csv")).open() as f:
        rows = list(csv.DictReader(f))
    lrs = [float(r["lr-AdamW"]) for r in rows if r.get("lr-AdamW")]
    # LearningRateMonitor logs each batch; the scheduler moves once per optimizer step (2 batches).
    assert len(lrs) == 2 * stopped_at
    assert lrs[0::2] == lrs[1::2]
    per_step = lrs[0::2]
    peak = settings["model"]["init_args"]["lr"]
    assert per_step[:3] == pytest.approx([peak / 3, 2 * peak / 3, peak])  # linear warmup over 2 steps
    assert all(a > b for a, b in itertools.pairwise(per_step[2:]))  # then the cosine
    validations = [r for r in rows if r.get("val/sar_agreement")]
    assert len(validations) == stopped_at // 2
