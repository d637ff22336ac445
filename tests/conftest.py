"""Fixtures shared by all tests."""

from pathlib import Path

import pytest

from run_configs import REPO, tiny_run_config


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
