"""Paths and run-config helpers shared by the tests (a plain module: conftest files are per folder)."""

import csv
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from lightning.pytorch import Callback

REPO = Path(__file__).resolve().parents[1]
#: Real BigEarthNet v1 pairs beside the checkout (optional: tests using it skip without it).
SHARED_DATA = REPO.parent / "shared" / "data" / "bigearthnet_v1_example"
#: The SSL4EO-S12 example location beside the checkout (optional, like ``SHARED_DATA``).
SHARED_SSL4EO = REPO.parent / "shared" / "data" / "ssl4eo_s12_example"
#: The SEN12MS-CR example patches beside the checkout (optional, like ``SHARED_DATA``).
SHARED_SEN12MSCR = REPO.parent / "shared" / "data" / "sen12mscr_example"


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script folder, not a package; its scripts import each other)."""
    folder = str(REPO / "benchmarks")
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Overrides of the demo config for a two-step run with one validation batch.
FAST_FIT = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=2",
    "--trainer.limit_val_batches=1",
    "--trainer.log_every_n_steps=1",
]


def tiny_run_config(source: Path, out_dir: Path, **data_args: object) -> Path:
    """Copy a run config, sending every output under ``out_dir`` and shrinking the data."""
    config = yaml.safe_load(source.read_text())
    trainer = config["trainer"]
    trainer["default_root_dir"] = str(out_dir)
    for logger in trainer.get("logger") or []:
        logger["init_args"]["save_dir"] = str(out_dir)
    for callback in trainer.get("callbacks") or []:
        if "dirpath" in callback.get("init_args", {}):
            callback["init_args"]["dirpath"] = str(out_dir / "checkpoints")
    config["data"]["init_args"].update(data_args)
    path = out_dir / source.name
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


#: ``model`` of a run config: the 1x1-convolution stand-in of ``stand_in.py`` (tests of loop plumbing).
STAND_IN = {"class_path": "stand_in.PixelGrounding", "init_args": {"bands": ["B02", "B03", "B04", "B08"]}}


def resume_run_config(
    out_dir: Path, extra_callbacks: list[dict] | None = None, model: dict | None = None
) -> Path:
    """The demo config for resume tests: 8 tiles of 32 px in batches of 2 (4 optimizer steps per
    epoch), ``last.ckpt`` written after every optimizer step, optional extra callbacks, and the
    demo's tiny TerraMind or another ``model`` (e.g. :data:`STAND_IN`)."""
    config = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml", out_dir, num_train=8, num_val=2, tile_size=32, batch_size=2
    )
    settings = yaml.safe_load(config.read_text())
    if model is not None:
        settings["model"]["init_args"]["model"] = model
    # this every-step ModelCheckpoint writes last.ckpt itself: one writer per file
    callbacks = [
        c for c in settings["trainer"]["callbacks"] if not c["class_path"].endswith("LastCheckpoint")
    ]
    settings["trainer"]["callbacks"] = callbacks
    for callback in callbacks:
        if callback["class_path"].endswith("ModelCheckpoint"):
            callback["init_args"] = {
                "dirpath": str(out_dir / "checkpoints"),
                "save_last": True,
                "every_n_train_steps": 1,
                "save_top_k": 0,
            }
    callbacks.extend(extra_callbacks or [])
    config.write_text(yaml.safe_dump(settings))
    return config


def logged_train_losses(run_dir: Path) -> dict[int, float]:
    """``train/loss`` by step from every CSV log version under ``run_dir`` (later versions win)."""
    losses = {}
    for metrics_csv in sorted(run_dir.glob("csv/version_*/metrics.csv")):
        with metrics_csv.open() as f:
            for row in csv.DictReader(f):
                if row.get("train/loss"):
                    losses[int(row["step"])] = float(row["train/loss"])
    return losses


#: The error :class:`CrashAt` raises.
CRASH = "simulated crash"


class CrashAt(Callback):
    """Stand-in for a killed process: fail before optimizer step ``step`` (after its checkpoint)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(CRASH)


#: Marks of tests that build the training task offline at test size, as the benchmarks do: LPIPS and
#: TerraMind with random weights and one-step runs, whose warnings are asserted in their own tests.
OFFLINE_TEST_SIZE = [
    pytest.mark.filterwarnings("ignore:LPIPS with a randomly initialised backbone:UserWarning"),
    pytest.mark.filterwarnings("ignore:warmup_steps=.* is not shorter than the run:UserWarning"),
    pytest.mark.filterwarnings(
        "ignore:TerraMind's S2L2A tokenizer decoder has zero output weights:UserWarning"
    ),
]
