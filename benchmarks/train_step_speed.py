# ruff: noqa: T201 - a command-line script: its table goes to stdout
r"""CPU train-step time: the plugin's LoRA training vs full fine-tuning vs a bare PyTorch loop.

For each model (``residual``, ``generative``), tile size and (generative) ``timesteps``, in one run:

* ``plugin LoRA``: ``SARGroundingTask`` with the LoRA model in a Lightning ``Trainer`` (the
  plugin's step: Lightning loop, ``training_step``, logging, optimizer);
* ``plugin full``: the same with the plugin's full fine-tuning (``lora=None``: every weight of the
  residual model; the generative model's transformer, its S2L2A tokenizer frozen by design);
* ``plugin full FT, every weight`` (``full_all``; generative only): every weight trainable, the
  tokenizer's diffusion decoder included: full fine-tuning in the literal sense;
* ``bare LoRA`` / ``bare full``: the LoRA and full models with ``Stage3Loss`` in a plain loop
  (forward, loss, backward, AdamW step, ``zero_grad``), each phase timed: the plugin's overhead is
  ``plugin LoRA / bare LoRA``, and the phases show where LoRA saves time and where it cannot.

``--lora-targets REGEX`` puts the adapters on other layers than the model's default (for example
the last encoder blocks only, which shortens the backward pass).

Every step sees the same in-memory batch (no data loading), ``pretrained=False`` weights (the
generative decoder's zero-initialised layers get small random values, as in the tests), LPIPS off.
Step time = wall time from ``on_train_batch_start`` to ``on_train_batch_end`` (plugin) or of one
loop iteration (bare), the fastest of ``--repeats`` steps after ``--warmup`` steps (on a shared
machine the minimum is the figure least disturbed by other jobs; the JSON keeps every step).
``--profile`` prints torch.profiler's top operations of a few plugin LoRA steps instead.

Usage::

    python benchmarks/train_step_speed.py --json benchmarks/train_step_speed.json   # tiny, 96 px, 2 steps
    python benchmarks/train_step_speed.py --tiles 96 120 224 --timesteps 5 10 20 --variant tiny
    python benchmarks/train_step_speed.py --models residual --variant base --tiles 224 \
        --lora-targets '.*encoder\.(9|10|11)\.attn\.(qkv|proj)'
    python benchmarks/train_step_speed.py --models generative --profile
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from result_files import machine, write_result
from torch import nn
from torch.utils.data import DataLoader, Dataset

from axion_terratorch import SARGroundingTask
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


MODES = ("lora", "full", "full_all")


def build_model(
    kind: str,
    variant: str,
    mode: str,
    timesteps: int,
    lora_targets: str | None = None,
    checkpoint_steps: bool = False,
) -> nn.Module:
    """The model of ``kind`` trained in ``mode``: ``lora``, ``full`` (plugin) or ``full_all``."""
    torch.manual_seed(0)
    settings = LoraSettings(rank=8, alpha=16, target_modules=lora_targets) if mode == "lora" else None
    if kind == "residual":
        model: nn.Module = TerraMindResidualGrounding(variant=variant, pretrained=False, lora=settings)
    else:
        model = TerraMindGenerativeGrounding(
            variant=variant,
            pretrained=False,
            lora=settings,
            timesteps=timesteps,
            checkpoint_steps=checkpoint_steps,
        )
        stand_in_decoder_weights(model)
    if mode == "full_all":
        model.requires_grad_(True)
    return model


def make_task(model: nn.Module) -> SARGroundingTask:
    return SARGroundingTask(
        model=model,
        loss=Stage3Loss(use_lpips=False),
        metrics=GroundingMetrics(lpips=False),
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


PHASES = ("forward", "backward", "optimizer")


def bare_steps(model: nn.Module, tile: int, steps: int) -> dict[str, list[float]]:
    """Per-step and per-phase times of a plain PyTorch loop over the same model and loss (float32).

    Phases: ``forward`` (model and loss), ``backward``, ``optimizer`` (AdamW step and ``zero_grad``).
    """
    loss_fn = Stage3Loss(use_lpips=False, bands=model.bands)
    model.train()
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-5
    )
    data = RepeatedSample(tile, steps, model.bands).sample
    image = {k: v[None] for k, v in data["image"].items()}
    target, mask = data["target"][None], data["valid_mask"][None]
    times: dict[str, list[float]] = {name: [] for name in ("step", *PHASES)}
    for _ in range(steps):
        marks = [time.perf_counter()]
        loss = loss_fn(model(image), image[OPTICAL_KEY], image[SAR_KEY], target=target, mask=mask)
        marks.append(time.perf_counter())
        loss["loss"].backward()
        marks.append(time.perf_counter())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        marks.append(time.perf_counter())
        for name, begin, end in zip(PHASES, marks, marks[1:], strict=False):
            times[name].append(end - begin)
        times["step"].append(marks[-1] - marks[0])
    return times


def fastest_after(times: list[float], warmup: int) -> float:
    return min(times[warmup:])


def measure_cell(kind: str, tile: int, timesteps: int | None, args: argparse.Namespace) -> dict[str, Any]:
    """Every mode of one model, tile and ``timesteps``, one after the other."""
    steps = args.warmup + args.repeats
    row: dict[str, Any] = {
        "model": kind,
        "variant": args.variant,
        "tile": tile,
        "timesteps": timesteps,
        "lora_targets": args.lora_targets,
        "checkpoint_steps": args.checkpoint_steps if kind == "generative" else None,
    }
    modes = MODES if kind == "generative" else MODES[:2]
    times: dict[str, list[float]] = {}
    for mode in modes:
        model = build_model(
            kind, args.variant, mode, timesteps or 1, args.lora_targets, args.checkpoint_steps
        )
        row[f"trainable_{mode}"] = count_parameters(model)[0]
        times[f"plugin_{mode}"] = plugin_steps(model, tile, steps, args.precision)
        if mode in ("lora", "full"):
            bare = bare_steps(model, tile, steps)
            times[f"bare_{mode}"] = bare.pop("step")
            for phase, values in bare.items():
                row[f"bare_{mode}_{phase}_s"] = statistics.median(values[args.warmup :])
        del model
    row["steps_s"] = times
    for name, values in times.items():
        row[f"{name}_s"] = fastest_after(values, args.warmup)
        row[f"{name}_median_s"] = statistics.median(values[args.warmup :])
    row["lora_over_full"] = row["plugin_lora_s"] / row["plugin_full_s"]
    if "plugin_full_all_s" in row:
        row["lora_over_full_all"] = row["plugin_lora_s"] / row["plugin_full_all_s"]
    row["plugin_over_bare"] = row["plugin_lora_s"] / row["bare_lora_s"]
    row["samples_per_s_plugin_lora"] = 1.0 / row["plugin_lora_s"]
    return row


def run(args: argparse.Namespace, argv: Sequence[str]) -> list[dict]:
    """Measure every cell; with ``--json``, rewrite the file after each one (a killed run keeps them)."""
    rows = []
    for kind in args.models:
        for tile in args.tiles:
            for timesteps in args.timesteps if kind == "generative" else [None]:
                row = measure_cell(kind, tile, timesteps, args)
                rows.append(row)
                print(_line(row), flush=True)
                if args.json is not None:
                    write_result(args.json, __file__, argv, {**machine(), "rows": rows})
    return rows


HEADER = (
    "| model | tile | timesteps | plugin LoRA (s) | plugin full FT (s) | plugin full FT, all (s) "
    "| bare LoRA (s) | LoRA / full | LoRA / full, all | plugin / bare | samples/s (plugin LoRA) |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
PHASE_HEADER = (
    "| model | tile | timesteps | mode | forward + loss (s) | backward (s) | optimizer (s) |\n"
    "|---|---:|---:|---|---:|---:|---:|"
)


def _optional(row: dict, key: str, digits: int) -> str:
    return f"{row[key]:.{digits}f}" if key in row else "-"


def _line(row: dict) -> str:
    return (
        f"| {row['model']} {row['variant']} | {row['tile']} | {row['timesteps'] or '-'} "
        f"| {row['plugin_lora_s']:.3f} | {row['plugin_full_s']:.3f} "
        f"| {_optional(row, 'plugin_full_all_s', 3)} | {row['bare_lora_s']:.3f} "
        f"| {row['lora_over_full']:.2f} | {_optional(row, 'lora_over_full_all', 2)} "
        f"| {row['plugin_over_bare']:.2f} | {row['samples_per_s_plugin_lora']:.2f} |"
    )


def _phase_lines(row: dict) -> list[str]:
    return [
        f"| {row['model']} {row['variant']} | {row['tile']} | {row['timesteps'] or '-'} | {mode} | "
        + " | ".join(f"{row[f'bare_{mode}_{phase}_s']:.3f}" for phase in PHASES)
        + " |"
        for mode in ("lora", "full")
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["residual", "generative"], choices=["residual", "generative"]
    )
    parser.add_argument("--variant", default="tiny", choices=["tiny", "small", "base", "large"])
    parser.add_argument("--tiles", type=int, nargs="+", default=[96])
    parser.add_argument("--timesteps", type=int, nargs="+", default=[2])
    parser.add_argument("--precision", default="32-true", help="Lightning precision of the plugin runs")
    parser.add_argument(
        "--lora-targets", default=None, help="regex of the adapted layers (default: the model's)"
    )
    parser.add_argument(
        "--checkpoint-steps",
        action="store_true",
        help="recompute each denoising step in backward (the generative lowvr config's setting)",
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile plugin LoRA steps instead")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.profile:
        for kind in args.models:
            model = build_model(
                kind, args.variant, "lora", args.timesteps[0], args.lora_targets, args.checkpoint_steps
            )
            print(f"== {kind} {args.variant}, tile {args.tiles[0]}, timesteps {args.timesteps[0]}")
            plugin_steps(model, args.tiles[0], args.warmup + args.repeats, args.precision, profile=True)
        return 0
    rows = run(args, argv or [])
    print()
    print("\n".join([HEADER, *map(_line, rows)]))
    print()
    print("\n".join([PHASE_HEADER, *(line for row in rows for line in _phase_lines(row))]))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
