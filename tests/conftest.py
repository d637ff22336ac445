from pathlib import Path

import pytest
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


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The demo config at test size: 4 training and 2 validation tiles of 32 px."""
    return tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml",
        tmp_path / "run",
        num_train=4,
        num_val=2,
        num_test=2,
        tile_size=32,
        batch_size=2,
    )
