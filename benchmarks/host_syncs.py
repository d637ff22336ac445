# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Host synchronisations per training batch of the plugin, counted by call site.

Every ``.item()``, ``float(t)``, ``bool(t)`` or data-dependent size reaches PyTorch as
``aten._local_scalar_dense``; on a GPU it makes the host wait for the device when the tensor lives
there. This script counts those calls per training batch of ``SARGroundingTask`` in a Lightning
``Trainer`` (progress bar on, as users run it), grouped by the first frame outside ``torch``, with
the stack that leads to it. Whether a site synchronises on a GPU depends on where its tensor lives,
which the CPU cannot show: docs/performance.md classifies each site.

Usage::

    python benchmarks/host_syncs.py --json benchmarks/host_syncs.json
"""

from __future__ import annotations

import argparse
import importlib.util
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from result_files import write_result
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader

import axion_terratorch

_spec = importlib.util.spec_from_file_location(
    "train_step_speed", Path(__file__).with_name("train_step_speed.py")
)
speed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(speed)


class ScalarReads(TorchDispatchMode):
    """Count ``aten._local_scalar_dense`` calls by call site while :attr:`active`."""

    def __init__(self, depth: int = 4) -> None:
        super().__init__()
        self.depth = depth
        self.active = False
        self.sites: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if self.active and func is torch.ops.aten._local_scalar_dense.default:
            frames = [f for f in traceback.extract_stack()[:-1] if "/torch/" not in f.filename]
            self.sites[" <- ".join(_frame(f) for f in frames[: -self.depth - 1 : -1])] += 1
        return func(*args, **(kwargs or {}))


#: Path prefix of this package's source (an editable install or a clone), stripped from sites.
_SOURCE_ROOT = f"{Path(axion_terratorch.__file__).resolve().parents[1]}/"


def _frame(frame: traceback.FrameSummary) -> str:
    name = frame.filename.split("site-packages/")[-1].removeprefix(_SOURCE_ROOT)
    return f"{name}:{frame.lineno} {frame.name}"


class Activate(pl.Callback):
    """Turn counting on from the first training batch (set-up is not a training step)."""

    def __init__(self, mode: ScalarReads) -> None:
        self.mode = mode

    def on_train_batch_start(self, *args: Any) -> None:
        self.mode.active = True


def count(kind: str, tile: int, timesteps: int, batches: int, refresh_rate: int) -> dict[str, float]:
    """Scalar reads per training batch of the plugin's LoRA ``kind`` model, by call site."""
    model = speed.build_model(kind, "tiny", "lora", timesteps)
    mode = ScalarReads()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=batches,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[Activate(mode), pl.callbacks.TQDMProgressBar(refresh_rate=refresh_rate)],
    )
    loader = DataLoader(speed.RepeatedSample(tile, batches, model.bands), batch_size=1)
    with mode:
        trainer.fit(speed.make_task(model), loader)
    return {site: n / batches for site, n in mode.sites.most_common()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["residual", "generative"])
    parser.add_argument("--tile", type=int, default=32)
    parser.add_argument("--timesteps", type=int, default=2)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--refresh-rate", type=int, default=1, help="TQDMProgressBar refresh rate")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {}
    for kind in args.models:
        sites = count(kind, args.tile, args.timesteps, args.batches, args.refresh_rate)
        result[kind] = sites
        print(f"\n{kind} (tiny, {args.tile} px, timesteps {args.timesteps}): scalar reads per batch")
        print("| per batch | call site <- callers |\n|---:|---|")
        for site, n in sites.items():
            print(f"| {n:g} | {site} |")
    if args.json is not None:
        write_result(args.json, __file__, argv, result)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
