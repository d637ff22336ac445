"""A training run killed with SIGKILL (between steps, or during a checkpoint write) resumes from its
newest complete checkpoint and logs the same losses as a run never killed."""

import os
import time

import pytest
import torch
from fuzz_support import (
    fuzz_summary,  # noqa: F401 - autouse: prints the outcomes
    record,
)
from terratorch.cli_tools import build_lightning_cli

from forked import forked
from run_configs import REPO, STAND_IN, logged_train_losses, resume_run_config

pytestmark = pytest.mark.slow

MAX_STEPS = 6
#: 8 tiles in batches of 2, validation on one batch, every step logged.
RUN = [f"--trainer.max_steps={MAX_STEPS}", "--trainer.limit_val_batches=1", "--trainer.log_every_n_steps=1"]
#: The model of each kill point: the demo's TerraMind where the kill lands in a checkpoint write (its
#: megabytes take long enough to be caught mid-write); the 1x1 stand-in elsewhere (the loop is tested).
MODELS = {"during_write": "terramind", "after_step_3": "stand-in", "during_validation": "stand-in"}


def run_config(run_dir, model):
    return resume_run_config(run_dir, model=None if model == "terramind" else STAND_IN)


def train(argv):
    """``terratorch <argv>`` run from the repository folder: the child of :func:`kill_when`."""
    os.chdir(REPO)
    build_lightning_cli(argv)


def kill_when(run_dir, moment, timeout=240.0):
    """Start training in a forked child and SIGKILL it at ``moment``; return what was caught."""
    checkpoints = run_dir / "checkpoints"
    child = forked(train, ["fit", "-c", str(run_config(run_dir, MODELS[moment])), *RUN])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and child.is_alive():
            names = [entry.name for entry in os.scandir(checkpoints)] if checkpoints.is_dir() else []
            writing = [name for name in names if name.endswith(".tmp")]
            if moment == "during_write" and writing and "last.ckpt" in names:  # not the first write
                child.kill()
                return writing
            if moment == "during_validation" and any(run_dir.glob("tensorboard/*/examples/*.png")):
                child.kill()  # ExampleImages draws during the epoch-end validation
                return ["an example panel of the epoch-end validation"]
            if moment == "after_step_3" and "last.ckpt" in names:
                try:
                    step = torch.load(checkpoints / "last.ckpt", weights_only=True, mmap=True)["global_step"]
                except (OSError, RuntimeError, EOFError):
                    continue  # replaced while we read it
                if step >= 3:
                    child.kill()
                    return [f"global_step {step}"]
            time.sleep(0.002)
    finally:
        if child.is_alive():
            child.kill()
        child.join()
    pytest.fail(f"the run ended (exit {child.exitcode}) before the kill point {moment!r}")


@pytest.fixture(scope="module")
def references(tmp_path_factory, one_torch_thread):
    """The losses of an uninterrupted run, by model (each run once, on one thread as the killed child)."""
    losses = {}

    def reference(model):
        if model not in losses:
            run_dir = tmp_path_factory.mktemp(f"reference-{model}")
            build_lightning_cli(["fit", "-c", str(run_config(run_dir, model)), *RUN])
            losses[model] = logged_train_losses(run_dir)
        return losses[model]

    return reference


@pytest.mark.parametrize("moment", list(MODELS))
def test_killed_run_resumes_from_its_newest_checkpoint_with_the_same_losses(tmp_path, references, moment):
    model = MODELS[moment]
    reference = references(model)
    run_dir = tmp_path / "killed"
    caught = kill_when(run_dir, moment)
    last = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)  # complete: the kill never leaves a torn last.ckpt
    step = checkpoint["global_step"]
    assert 0 < step < MAX_STEPS, caught
    stale = sorted(p.name for p in last.parent.glob(".*.tmp"))  # the interrupted write, never renamed
    build_lightning_cli(["fit", "-c", str(run_config(run_dir, model)), *RUN, f"--ckpt_path={last}"])
    resumed = logged_train_losses(run_dir)
    assert torch.load(last, weights_only=True)["global_step"] == MAX_STEPS
    assert not list(last.parent.glob(".*.tmp"))  # the next save of last.ckpt removed the torn write
    redone = sorted(s for s in resumed if s >= step)
    assert redone == list(range(step, MAX_STEPS)), "resume must start at the checkpoint's step"
    for s in redone:
        assert resumed[s] == pytest.approx(reference[s], rel=1e-5, abs=1e-7), s
    record(
        "SIGKILL during training, then --ckpt_path last.ckpt",
        f"{moment} ({model}): caught {caught}; last.ckpt loaded at step {step}; steps {step}-{MAX_STEPS - 1} "
        f"re-run with the reference losses; {len(stale)} stale temporary file(s), removed by the next save",
    )
