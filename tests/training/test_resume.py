"""A run interrupted and resumed logs the same losses as one never interrupted (same seed).

The 1x1 stand-in model runs here: the loop is tested (TerraMind is killed and resumed in
``tests/reliability/test_crash_resume.py``)."""

import warnings

import pytest
import torch
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.datamodules.sampling import ResumableRandomSampler, resumable_train_loader

from run_configs import CRASH, STAND_IN, logged_train_losses, resume_run_config

pytestmark = pytest.mark.slow

RUN = ["--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1"]


def run(tmp_path, name, *args, crash_at=None):
    crash = (
        [] if crash_at is None else [{"class_path": "run_configs.CrashAt", "init_args": {"step": crash_at}}]
    )
    config = resume_run_config(tmp_path / name, crash, model=STAND_IN)
    build_lightning_cli(["fit", "-c", str(config), *RUN, *args])
    return tmp_path / name


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Losses of the uninterrupted run."""
    return logged_train_losses(run(tmp_path_factory.mktemp("resume"), "reference", "--trainer.max_steps=6"))


@pytest.mark.parametrize("interrupt_at", [2, 4], ids=["mid-epoch", "epoch-end"])
def test_resumed_run_logs_the_same_losses(tmp_path, reference, interrupt_at):
    with pytest.raises(RuntimeError, match=CRASH):
        run(tmp_path, "interrupted", "--trainer.max_steps=6", crash_at=interrupt_at)
    first = tmp_path / "interrupted"
    ckpt = first / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt)["global_step"] == interrupt_at  # loads with weights_only (the default)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(tmp_path, "interrupted", "--trainer.max_steps=6", f"--ckpt_path={ckpt}")
    assert not [w for w in caught if "not resumable" in str(w.message)]  # a stateful training loader
    resumed = logged_train_losses(first)
    assert sorted(reference) == sorted(resumed) == list(range(6))
    for step in range(6):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-7), step


def test_sampler_order_depends_only_on_seed_and_epoch():
    sampler = ResumableRandomSampler(range(10), seed=3)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert sorted(epoch1) == list(range(10))
    assert list(sampler) == epoch1
    sampler.set_epoch(2)
    assert list(sampler) != epoch1
    sampler.set_epoch(1)
    sampler.skip(4)
    assert list(sampler) == epoch1[4:]
    assert list(sampler) == epoch1  # the skip applies once
    assert list(ResumableRandomSampler(range(10), seed=4)) != list(ResumableRandomSampler(range(10), seed=3))


def test_training_loader_state_reports_a_resume_over_another_order():
    state = resumable_train_loader(list(range(10)), 2, 0, seed=3).state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resumable_train_loader(list(range(10)), 2, 0, seed=3).load_state_dict(state)
    with pytest.warns(UserWarning, match=r"another training order .*'seed': \(3, 4\)"):
        resumable_train_loader(list(range(10)), 2, 0, seed=4).load_state_dict(state)
    with pytest.warns(UserWarning, match=r"'size': \(10, 12\)"):
        resumable_train_loader(list(range(12)), 2, 0, seed=3).load_state_dict(state)


def test_sampler_seeds_each_draw_by_seed_epoch_and_position():
    sampler = ResumableRandomSampler(range(6), seed=1, repeats=2)
    draws = [(int(i), i.draw_seed) for i in sampler]
    assert len({seed for _, seed in draws}) == 12  # a tile read twice per epoch is cropped anew
    sampler.skip(5)
    assert [(int(i), i.draw_seed) for i in sampler] == draws[5:]
    sampler.set_epoch(1)
    assert {seed for _, seed in draws}.isdisjoint(i.draw_seed for i in sampler)
