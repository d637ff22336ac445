# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""CPU train-step time: the plugin's LoRA training vs full fine-tuning vs a bare PyTorch loop.

For each model (``residual``, ``generative``), tile size and (generative) ``timesteps``, in one run:

* ``plugin LoRA``: ``SARGroundingTask`` with the LoRA model in a Lightning ``Trainer`` (the
  plugin's step: Lightning loop, ``training_step``, logging, optimizer);
* ``plugin full``: the same with full fine-tuning (``lora=None``: the residual model's encoder, the
  generative model's transformer; the S2L2A tokenizer is frozen by design);
* ``bare LoRA``: the same LoRA model and ``Stage3Loss`` in a plain loop (forward, loss, backward,
  AdamW step, ``zero_grad``): the plugin's overhead is ``plugin LoRA / bare LoRA``.

Every step sees the same in-memory batch (no data loading), ``pretrained=False`` weights (the
generative decoder's zero-initialised layers get small random values, as in the tests), LPIPS off.
Step time = wall time from ``on_train_batch_start`` to ``on_train_batch_end`` (plugin) or of one
loop iteration (bare), the fastest of ``--repeats`` steps after ``--warmup`` steps (on a shared
machine the minimum is the figure least disturbed by other jobs; the JSON keeps every step).
``--profile`` prints torch.profiler's top operations of a few plugin LoRA steps instead.

Usage::

    python benchmarks/train_step_speed.py --json benchmarks/train_step_speed.json   # tiny, 96 px, 2 steps
    python benchmarks/train_step_speed.py --tiles 96 120 224 --timesteps 5 10 20 --variant tiny
    python benchmarks/train_step_speed.py --models generative --profile
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from axion_terratorch import SARGroundingTask
from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.losses import Stage3Loss
from axion_terratorch.metrics import GroundingMetrics
from axion_terratorch.models import (
    LoraSettings,
    TerraMindGenerativeGrounding,
    TerraMindResidualGrounding,
    count_parameters,
)
from axion_terratorch.profiling.memory import make_batch


class RepeatedSample(Dataset):
    """The same sample ``length`` times (one sample of :func:`make_batch`)."""

    def __init__(self, tile_size: int, length: int, bands: tuple[str, ...]) -> None:
        batch = make_batch(bands, 1, tile_size, "cpu")
        self.sample = {
            "image": {k: v[0] for k, v in batch["image"].items()},
            "target": batch["target"][0],
            "valid_mask": batch["valid_mask"][0],
        }
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.sample


class StepTimer(pl.Callback):
    """Wall time of each training batch, start to end of Lightning's batch hooks."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.times.append(time.perf_counter() - self._start)


def stand_in_decoder_weights(model: nn.Module, std: float = 0.02) -> None:
    """Small random values for the generative decoder's all-zero convolutions (see the tests)."""
    if not isinstance(model, TerraMindGenerativeGrounding):
        return
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.tokenizer.decoder.modules():
            if isinstance(module, nn.Conv1d | nn.Conv2d) and not module.weight.any():
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)


def build_model(kind: str, variant: str, lora: bool, timesteps: int) -> nn.Module:
    torch.manual_seed(0)
    settings = LoraSettings(rank=8, alpha=16) if lora else None
    if kind == "residual":
        return TerraMindResidualGrounding(variant=variant, pretrained=False, lora=settings)
    model = TerraMindGenerativeGrounding(
        variant=variant, pretrained=False, lora=settings, timesteps=timesteps
    )
    stand_in_decoder_weights(model)
    return model


def make_task(model: nn.Module) -> SARGroundingTask:
    return SARGroundingTask(
        model=model,
        loss=Stage3Loss(use_lpips=False, bands=model.bands),
        metrics=GroundingMetrics(bands=model.bands, lpips=False),
    )


def plugin_steps(
    model: nn.Module, tile: int, steps: int, precision: str, profile: bool = False
) -> list[float]:
    """Per-step times of ``steps`` Lightning training steps of the plugin's task."""
    task = make_task(model)
    timer = StepTimer()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[timer],
    )
    loader = DataLoader(RepeatedSample(tile, steps, model.bands), batch_size=1)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
            trainer.fit(task, loader)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
    else:
        trainer.fit(task, loader)
    return timer.times


def bare_steps(model: nn.Module, tile: int, steps: int) -> list[float]:
    """Per-step times of a plain PyTorch loop over the same model and loss (float32)."""
    loss_fn = Stage3Loss(use_lpips=False, bands=model.bands)
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-5
    )
    data = RepeatedSample(tile, steps, model.bands).sample
    batch = {
        "image": {k: v[None] for k, v in data["image"].items()},
        "target": data["target"][None],
        "valid_mask": data["valid_mask"][None],
    }
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        image = batch["image"]
        out = model(image)
        loss = loss_fn(
            out, image[OPTICAL_KEY], image[SAR_KEY], target=batch["target"], mask=batch["valid_mask"]
        )
        loss["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    return times


def fastest_after(times: list[float], warmup: int) -> float:
    return min(times[warmup:])


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    steps = args.warmup + args.repeats
    for kind in args.models:
        for tile in args.tiles:
            for timesteps in args.timesteps if kind == "generative" else [None]:
                lora_model = build_model(kind, args.variant, True, timesteps or 1)
                full_model = build_model(kind, args.variant, False, timesteps or 1)
                row: dict[str, Any] = {
                    "model": kind,
                    "variant": args.variant,
                    "tile": tile,
                    "timesteps": timesteps,
                }
                row["trainable_lora"] = count_parameters(lora_model)[0]
                row["trainable_full"] = count_parameters(full_model)[0]
                times = {
                    "plugin_lora": plugin_steps(lora_model, tile, steps, args.precision),
                    "bare_lora": bare_steps(lora_model, tile, steps),
                    "plugin_full": plugin_steps(full_model, tile, steps, args.precision),
                }
                row["steps_s"] = times
                for name, values in times.items():
                    row[f"{name}_s"] = fastest_after(values, args.warmup)
                    row[f"{name}_median_s"] = statistics.median(values[args.warmup :])
                row["lora_over_full"] = row["plugin_lora_s"] / row["plugin_full_s"]
                row["plugin_over_bare"] = row["plugin_lora_s"] / row["bare_lora_s"]
                row["samples_per_s_plugin_lora"] = 1.0 / row["plugin_lora_s"]
                rows.append(row)
                print(_line(row), flush=True)
    return rows


HEADER = (
    "| model | tile | timesteps | plugin LoRA (s) | plugin full FT (s) | bare LoRA (s) "
    "| LoRA / full | plugin / bare | samples/s (plugin LoRA) |"
)


def _line(row: dict) -> str:
    return (
        f"| {row['model']} {row['variant']} | {row['tile']} | {row['timesteps'] or '-'} "
        f"| {row['plugin_lora_s']:.3f} | {row['plugin_full_s']:.3f} | {row['bare_lora_s']:.3f} "
        f"| {row['lora_over_full']:.2f} | {row['plugin_over_bare']:.2f} | {row['samples_per_s_plugin_lora']:.2f} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["residual", "generative"], choices=["residual", "generative"]
    )
    parser.add_argument("--variant", default="tiny", choices=["tiny", "small", "base", "large"])
    parser.add_argument("--tiles", type=int, nargs="+", default=[96])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[2])
    parser.add_argument("--precision", default="32-true", help="Lightning precision of the plugin runs")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile plugin LoRA steps instead")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.profile:
        for kind in args.models:
            model = build_model(kind, args.variant, True, args.timesteps[0])
            print(f"== {kind} {args.variant}, tile {args.tiles[0]}, timesteps {args.timesteps[0]}")
            plugin_steps(model, args.tiles[0], args.warmup + args.repeats, args.precision, profile=True)
        return 0
    rows = run(args)
    print()
    print("\n".join([HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---:|", *map(_line, rows)]))
    if args.json is not None:
        result = {
            "command": "python benchmarks/train_step_speed.py " + " ".join(argv or []),
            "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "rows": rows,
        }
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
