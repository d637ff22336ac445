"""Every path of a run follows ``trainer.default_root_dir``: overlaid runs with other roots never mix."""

import pytest
import yaml
from terratorch.cli_tools import build_lightning_cli

from run_configs import REPO

SMALL = [
    "--trainer.max_epochs=1",
    "--trainer.max_steps=1",
    "--trainer.limit_val_batches=1",
    "--trainer.enable_progress_bar=false",
    "--model.init_args.model.init_args.decoder_channels=8",
]


@pytest.fixture
def overlay(tmp_path):
    """A data overlay as `configs/data/*.yaml` are: tiny synthetic scenes, nothing else."""
    path = tmp_path / "tiny_data.yaml"
    data = {"num_train": 2, "num_val": 2, "num_test": 2, "tile_size": 32, "batch_size": 2}
    path.write_text(yaml.safe_dump({"data": {"init_args": data}}))
    return path


def run(root, overlay):
    config = REPO / "configs" / "stage3.demo.yaml"
    build_lightning_cli(
        ["fit", "-c", str(config), "-c", str(overlay), f"--trainer.default_root_dir={root}", *SMALL]
    )


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_overlaid_runs_with_other_roots_write_to_their_own_folders(tmp_path, overlay, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config's own root (outputs/demo) would land here
    run(tmp_path / "a", overlay)
    run(tmp_path / "b", overlay)
    for root in (tmp_path / "a", tmp_path / "b"):
        written = files(root)
        assert "checkpoints/last.ckpt" in written
        assert "csv/version_0/metrics.csv" in written
        assert any(name.startswith("tensorboard/version_0/events") for name in written)
        assert not any("-v1" in name or "version_1" in name for name in written)  # nothing shared
    assert not (tmp_path / "outputs").exists()
