"""Fixtures shared by all tests."""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from run_configs import FAST_FIT, REPO, tiny_run_config


def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n 2`` (pytest-xdist, the default in pyproject.toml): one thread per worker and
    per child process, as the workers share the cores."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for the rest of the module, as in a child of ``forked.forked``: float sums
    depend on the thread count (already so under ``pytest -n 2``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, modules with ``slow`` tests first: the workers take whole modules
    (``--dist loadscope``) in this order, so no long module is left for the end."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def small_demo_config(out_dir: Path) -> Path:
    """The demo config at test size, writing under ``out_dir``: 4 training and 2 validation tiles of 32 px."""
    return tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml",
        out_dir,
        num_train=4,
        num_val=2,
        num_test=2,
        tile_size=32,
        batch_size=2,
    )


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The demo config at test size in this test's own folder."""
    return small_demo_config(tmp_path / "run")


@dataclass(frozen=True)
class DemoRun:
    """One finished ``terratorch fit`` of the demo config at test size (shared: do not write into it)."""

    config: Path
    run_dir: Path
    checkpoint: Path
    cli: Any


#: A loss term of the user's own in the shared demo run (``stand_in.Brightness``, weight 0.25).
EXTRA_TERM = {"brightness": {"term": {"class_path": "stand_in.Brightness"}, "weight": 0.25}}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo config, plus :data:`EXTRA_TERM` in its loss, fit once per session with ``FAST_FIT``:
    its config, run folder, ``last.ckpt`` and CLI."""
    from terratorch.cli_tools import build_lightning_cli

    run_dir = tmp_path_factory.mktemp("demo_run") / "run"
    config = small_demo_config(run_dir)
    settings = yaml.safe_load(config.read_text())
    settings["model"]["init_args"]["loss"]["init_args"]["extra_terms"] = EXTRA_TERM
    config.write_text(yaml.safe_dump(settings))
    cli = build_lightning_cli(["fit", "-c", str(config), *FAST_FIT])
    return DemoRun(config, run_dir, run_dir / "checkpoints" / "last.ckpt", cli)
