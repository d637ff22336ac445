"""Paths and run-config helpers shared by the tests (a plain module: conftest files are per folder)."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
#: Real BigEarthNet v1 pairs beside the checkout (optional: tests using it skip without it).
SHARED_DATA = REPO.parent / "shared" / "data" / "bigearthnet_v1_example"


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
