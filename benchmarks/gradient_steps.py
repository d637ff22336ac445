# ruff: noqa: T201 - a command-line script: its table goes to stdout
r"""Truncated backpropagation through the denoising loop: step time, memory and gradients per ``gradient_steps``.

The generative task of a shipped config (default ``configs/stage3.lowvr.yaml``: its loss, optimizer,
precision and ``checkpoint_steps``) is built once, as ``axion-stage3 memory-report`` builds it
(``pretrained=False``, the stand-in decoder weights of the tests: a random decoder passes no
gradient), with ``--variant`` and ``--timesteps``. Then, for ``gradient_steps`` = 1, 2 and
``timesteps`` (every step; the seed's behaviour), each with the config's ``checkpoint_steps`` or
each value of ``--checkpoint-steps``, on the same model:

* **memory**: one measured training step each
  (:func:`axion_terratorch.profiling.memory.measure_training_memory`): the peak the device must hold
  (resident weights, gradients, optimizer state + the step's peak), the step's peak alone and the
  activations kept for backward;
* **time**: ``--warmup`` + ``--repeats`` training steps each (forward + loss under the config's
  autocast, backward, AdamW step), the settings interleaved step by step (so that other jobs on the
  machine slow all of them alike), each phase timed; step time = the fastest timed step;
* **gradients**: one more forward + backward each on the same weights (LoRA ``B`` is no longer 0
  after the timed steps): the LoRA tensors that receive a non-zero gradient.

``step_time_ratio`` and ``peak_memory_ratio`` are K=1 over every step, both with the config's
``checkpoint_steps`` (or the first value of ``--checkpoint-steps`` if it is not among them). Usage::

    python benchmarks/gradient_steps.py --variant tiny --tile-size 64 --timesteps 10 \
        --checkpoint-steps true false --json benchmarks/gradient_steps_tiny_64.json
    python benchmarks/gradient_steps.py --variant base --tile-size 224 --timesteps 10 \
        --checkpoint-steps true false --warmup 0 --repeats 3 --json benchmarks/gradient_steps_base_224.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from result_files import machine, write_result
from torch import nn

from axion_terratorch.profiling.budget import format_bytes, normalize_precision
from axion_terratorch.profiling.memory import (
    compute_dtype,
    make_batch,
    measure_training_memory,
    task_optimizer,
)
from axion_terratorch.profiling.task_config import build_task, load_config

PHASES = ("forward", "backward", "optimizer")
#: ``(gradient_steps, checkpoint_steps)`` of one measured setting.
Setting = tuple[int, bool]
#: The issue's targets for K=1 against every step.
TARGETS = {"step_time_ratio": 0.5, "peak_memory_ratio": 0.8}


def apply(task: nn.Module, setting: Setting) -> None:
    """Set the model's ``gradient_steps`` and ``checkpoint_steps``."""
    task.model.gradient_steps, task.model.checkpoint_steps = setting


def label(setting: Setting, timesteps: int) -> str:
    steps, checkpointed = setting
    return f"{steps}{' (all)' if steps == timesteps else ''}{', checkpointed' if checkpointed else ''}"


def autocast(dtype: torch.dtype) -> Any:
    """The config's autocast on the CPU (a no-op context in float32)."""
    return torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32)


def memory_rows(task: nn.Module, settings: list[Setting], args: argparse.Namespace) -> dict[Setting, dict]:
    """One measured training step per ``gradient_steps``: peak, step peak and activations in bytes."""
    rows = {}
    for setting in settings:
        apply(task, setting)
        budget = measure_training_memory(task, tile_size=args.tile_size, precision=args.precision)
        rows[setting] = {
            "peak_bytes": budget.peak_bytes,
            "step_peak_bytes": budget.step_peak_bytes,
            "activation_bytes": budget.activation_bytes,
            "resident_bytes": budget.resident_bytes,
            "model_settings": budget.model_settings,
        }
        print(
            f"gradient_steps {label(setting, args.timesteps)}: peak {format_bytes(budget.peak_bytes)}",
            flush=True,
        )
    return rows


def timed_steps(task: nn.Module, settings: list[Setting], args: argparse.Namespace) -> dict[Setting, dict]:
    """Per-phase times of interleaved training steps: repeat r runs every setting once (order alternating)."""
    dtype = compute_dtype(args.precision, "cpu")
    optimizer = task_optimizer(task)
    batch = make_batch(task.model.bands, 1, args.tile_size, "cpu")
    times: dict[Setting, dict[str, list[float]]] = {k: {p: [] for p in ("step", *PHASES)} for k in settings}
    for repeat in range(args.warmup + args.repeats):
        for setting in settings if repeat % 2 == 0 else settings[::-1]:
            apply(task, setting)
            marks = [time.perf_counter()]
            with autocast(dtype):
                loss = task.compute_loss(task(batch["image"]), batch)["loss"]
            marks.append(time.perf_counter())
            loss.backward()
            marks.append(time.perf_counter())
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            marks.append(time.perf_counter())
            if repeat >= args.warmup:
                for phase, begin, end in zip(PHASES, marks, marks[1:], strict=False):
                    times[setting][phase].append(end - begin)
                times[setting]["step"].append(marks[-1] - marks[0])
        print(f"repeat {repeat + 1} of {args.warmup + args.repeats} done", flush=True)
    return {
        setting: {
            "step_s": min(phases["step"]),
            "step_median_s": statistics.median(phases["step"]),
            **{f"{phase}_median_s": statistics.median(phases[phase]) for phase in PHASES},
            "steps_s": phases["step"],
        }
        for setting, phases in times.items()
    }


def lora_gradients(
    task: nn.Module, settings: list[Setting], args: argparse.Namespace
) -> dict[Setting, list[str]]:
    """Names of the LoRA tensors with a non-zero gradient after one backward pass per setting."""
    dtype = compute_dtype(args.precision, "cpu")
    batch = make_batch(task.model.bands, 1, args.tile_size, "cpu", seed=1)
    lora = {name: p for name, p in task.named_parameters() if "lora_" in name and p.requires_grad}
    out = {}
    for setting in settings:
        apply(task, setting)
        task.zero_grad(set_to_none=True)
        with autocast(dtype):
            loss = task.compute_loss(task(batch["image"]), batch)["loss"]
        loss.backward()
        out[setting] = sorted(n for n, p in lora.items() if p.grad is not None and bool(p.grad.ne(0).any()))
    task.zero_grad(set_to_none=True)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = load_config(args.config)
    args.precision = normalize_precision(args.precision or config.get("trainer", {}).get("precision", "32"))
    torch.manual_seed(0)
    task = build_task(config["model"], {"variant": args.variant, "timesteps": args.timesteps})
    checkpointing = args.checkpoint_steps or [task.model.checkpoint_steps]
    shipped = (
        task.model.checkpoint_steps if task.model.checkpoint_steps in checkpointing else checkpointing[0]
    )
    settings = [(k, c) for c in checkpointing for k in sorted({*args.gradient_steps, args.timesteps})]
    memory = memory_rows(task, settings, args)  # first: it also moves the task to its step dtype
    speed = timed_steps(task, settings, args)
    grads = lora_gradients(task, settings, args)
    lora_total = sum(1 for n, p in task.named_parameters() if "lora_" in n and p.requires_grad)
    rows = [
        {
            "gradient_steps": k[0],
            "checkpoint_steps": k[1],
            **memory[k],
            **speed[k],
            "lora_tensors_with_grad": len(grads[k]),
        }
        for k in settings
    ]
    first, every = (min(args.gradient_steps), shipped), (args.timesteps, shipped)
    result = {
        "config": args.config,
        "variant": args.variant,
        "tile_size": args.tile_size,
        "timesteps": args.timesteps,
        "precision": args.precision,
        "checkpoint_steps": shipped,
        "frozen_dtype": task.model.frozen_dtype,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "compared_gradient_steps": first[0],
        "step_time_ratio": speed[first]["step_s"] / speed[every]["step_s"],
        "step_time_ratio_median": speed[first]["step_median_s"] / speed[every]["step_median_s"],
        "peak_memory_ratio": memory[first]["peak_bytes"] / memory[every]["peak_bytes"],
        "step_peak_memory_ratio": memory[first]["step_peak_bytes"] / memory[every]["step_peak_bytes"],
        "lora_tensors_with_grad": len(grads[first]),
        "lora_tensors_with_grad_all_steps": len(grads[every]),
        "lora_tensors": lora_total,
        "same_lora_tensors_with_grad": grads[first] == grads[every],
        "rows": rows,
    }
    result["targets_met"] = {
        "step_time_ratio": result["step_time_ratio"] <= TARGETS["step_time_ratio"],
        "peak_memory_ratio": result["peak_memory_ratio"] <= TARGETS["peak_memory_ratio"],
        "lora_tensors_with_grad": result["same_lora_tensors_with_grad"],
    }
    return result


def markdown(result: dict[str, Any]) -> str:
    """One line per ``gradient_steps``: times by phase, memory, LoRA tensors with a gradient."""
    header = (
        "| gradient_steps | step (s) | forward + loss (s) | backward (s) | optimizer (s) | peak | step peak "
        "| activations | LoRA tensors with grad |"
    )
    lines = [header, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        setting = (row["gradient_steps"], row["checkpoint_steps"])
        lines.append(
            f"| {label(setting, result['timesteps'])} | {row['step_s']:.3f} | {row['forward_median_s']:.3f} | {row['backward_median_s']:.3f} "
            f"| {row['optimizer_median_s']:.3f} | {format_bytes(row['peak_bytes'])} "
            f"| {format_bytes(row['step_peak_bytes'])} | {format_bytes(row['activation_bytes'])} "
            f"| {row['lora_tensors_with_grad']} of {result['lora_tensors']} |"
        )
    lines.append("")
    lines.append(
        f"K={result['compared_gradient_steps']} over all {result['timesteps']} steps "
        f"(checkpoint_steps {result['checkpoint_steps']}): step time "
        f"{result['step_time_ratio']:.2f}x (medians {result['step_time_ratio_median']:.2f}x), peak memory "
        f"{result['peak_memory_ratio']:.2f}x (step peak {result['step_peak_memory_ratio']:.2f}x), LoRA "
        f"tensors with grad {result['lora_tensors_with_grad']} vs {result['lora_tensors_with_grad_all_steps']}"
    )
    return "\n".join(lines)


def _bool(text: str) -> bool:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    msg = f"expected true or false, got {text!r}"
    raise argparse.ArgumentTypeError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/stage3.lowvr.yaml", help="generative task config")
    parser.add_argument("--variant", default="tiny", choices=["tiny", "small", "base", "large"])
    parser.add_argument("--tile-size", type=int, default=64)
    parser.add_argument("--timesteps", type=int, default=10)
    parser.add_argument("--gradient-steps", type=int, nargs="+", default=[1, 2], help="besides timesteps")
    parser.add_argument("--precision", default=None, help="default: trainer.precision of the config")
    parser.add_argument(
        "--checkpoint-steps",
        type=_bool,
        nargs="+",
        default=None,
        help="true and/or false; default: the config's",
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the results here (atomic)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or not all(1 <= k <= args.timesteps for k in args.gradient_steps):
        parser.error("--repeats must be >= 1, --warmup >= 0 and every --gradient-steps in [1, --timesteps]")
    result = run(args)
    print(markdown(result))
    if args.json is not None:
        write_result(args.json, __file__, argv, {**machine(), **result})
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
