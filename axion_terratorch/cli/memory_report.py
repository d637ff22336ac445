# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 memory-report``: the training memory budget of a config, measured on one step.

Example::

    axion-stage3 memory-report -c configs/stage3.lowvr.yaml --tile-size 224 --json budget.json

Defaults come from the config: ``trainer.precision``, ``data.init_args.batch_size`` and
``tiles.tile_size`` (or ``tile_size``), the model's ``timesteps`` / ``gradient_steps`` /
``checkpoint_steps`` / ``frozen_dtype``. Pretrained downloads are turned off (sizes do not depend on
weight values), so it runs offline.

The phases are printed to stderr as they start, with the seconds since the start, and after a
forward pass on a 32 px tile an estimate of how long the measured step takes on this device (a
base-size generative model at 224 px takes minutes on a CPU). ``--quick`` measures one denoising
step of a generative model (``timesteps 1, gradient_steps 1``): weights, adapters, gradients and
optimizer state are exact, activations are those of one step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from axion_terratorch.atomic import atomic_path
from axion_terratorch.cli.errors import FAILED, INPUT_ERROR
from axion_terratorch.cli.options import add_device_argument

#: Exit code for a config or argument error (the message names the key).
CONFIG_ERROR = INPUT_ERROR
#: Exit code when the peak exceeds ``--max-gib``.
OVER_BUDGET = FAILED
#: Flags that override an argument of the config's model, by argument name: their ``add_argument``
#: keywords (default ``None``: the config's value).
MODEL_OVERRIDES: dict[str, dict[str, Any]] = {
    "timesteps": {"type": int, "help": "DDIM steps (generative models)"},
    "gradient_steps": {
        "type": int,
        "help": "backpropagate through the last N DDIM steps only (generative models); default: the config",
    },
    "checkpoint_steps": {
        "action": argparse.BooleanOptionalAction,
        "help": "per-denoising-step activation checkpointing (generative models); default: the config",
    },
    "frozen_dtype": {
        "choices": ["float32", "float16", "bfloat16"],
        "help": "storage dtype of the frozen weights (generative models); default: the config",
    },
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``memory-report`` options to ``parser``."""
    parser.add_argument("-c", "--config", required=True, help="terratorch / LightningCLI YAML config")
    parser.add_argument("--json", default=None, help="also write the report as JSON here (atomic write)")
    parser.add_argument(
        "--precision",
        default=None,
        help="32-true, 16-mixed or bf16-mixed (or 32, 16, bf16); default: trainer.precision of the config",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: data.init_args.batch_size")
    parser.add_argument(
        "--tile-size", type=int, default=None, help="tile side in px; default: data tile_size"
    )
    for name, options in MODEL_OVERRIDES.items():
        parser.add_argument("--" + name.replace("_", "-"), default=None, **options)
    add_device_argument(parser)
    parser.add_argument(
        "--cpu-half",
        choices=["bfloat16", "float16"],
        default="bfloat16",
        help="autocast dtype of 16-mixed on the CPU: bfloat16 (same bytes as float16, much faster on CPUs)",
    )
    parser.add_argument(
        "--max-gib", type=float, default=None, help="exit with status 1 if the peak exceeds this many GiB"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="measure one denoising step (timesteps 1, gradient_steps 1) of a generative model: "
        "activations of one step, everything else exact; no change for other models",
    )


def run(args: argparse.Namespace) -> int:
    """Build the task, measure one training step, print the table and write the JSON."""
    import torch

    from axion_terratorch.output_files import check_outputs
    from axion_terratorch.profiling.budget import GIB
    from axion_terratorch.profiling.memory import PROBE_TILE, estimate_step_seconds, measure_training_memory
    from axion_terratorch.profiling.task_config import build_task

    phase = Phases()
    try:
        config, settings = resolve_settings(args)  # bad input: one line, before any progress line
        check_outputs({"--json": args.json}, {"--config": args.config})
        precision, batch_size, tile_size, overrides = (
            settings[key] for key in ("precision", "batch_size", "tile_size", "overrides")
        )
        if "seed_everything" in config and isinstance(config["seed_everything"], int):
            torch.manual_seed(config["seed_everything"])
        phase(f"building the task ({_model_class(config)})")
        task = build_task(config["model"], overrides)
        phase(f"timing a forward pass on a {min(PROBE_TILE, tile_size)} px tile")
        _, estimate = estimate_step_seconds(task, batch_size, tile_size, args.device)
        phase.note(
            f"the measured step (batch {batch_size}, {tile_size} px, {precision}) takes about "
            f"{_duration(estimate)} on {args.device}"
        )
        budget = measure_training_memory(
            task,
            batch_size=batch_size,
            tile_size=tile_size,
            precision=precision,
            device=args.device,
            cpu_half=getattr(torch, args.cpu_half),
            phase=phase,
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"axion-stage3 memory-report: {error}", file=sys.stderr)
        return CONFIG_ERROR
    phase("done")
    print(budget.table())
    if settings["quick"]:
        print(
            "--quick: activations of one denoising step; run without --quick for the config's "
            "timesteps and gradient_steps"
        )
    if args.json is not None:
        report = {"config": str(args.config), **budget.to_dict()}
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    if args.max_gib is not None and budget.peak_bytes > args.max_gib * GIB:
        print(f"peak {budget.peak_bytes / GIB:.2f} GiB exceeds --max-gib {args.max_gib}", file=sys.stderr)
        return OVER_BUDGET
    return 0


def resolve_settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and the measured settings (``precision``, ``batch_size``, ``tile_size``,
    ``overrides`` of the model): flags first, then the config. Builds nothing.

    Raises:
        FileNotFoundError, TypeError, ValueError: For a missing or malformed config or a bad value;
            the message names the key.
    """
    from axion_terratorch.argument_bounds import check_option_bounds
    from axion_terratorch.profiling.budget import normalize_precision
    from axion_terratorch.profiling.task_config import load_config

    config = load_config(args.config)
    data_args = (config.get("data") or {}).get("init_args") or {}
    settings = {
        "precision": normalize_precision(
            args.precision or (config.get("trainer") or {}).get("precision", "32")
        ),
        "batch_size": args.batch_size if args.batch_size is not None else int(data_args.get("batch_size", 1)),
        "tile_size": args.tile_size if args.tile_size is not None else _tile_size(data_args),
        "overrides": {
            name: getattr(args, name) for name in MODEL_OVERRIDES if getattr(args, name) is not None
        },
        "quick": False,
    }
    check_option_bounds(
        {
            "--tile-size": settings["tile_size"],
            "--batch-size": settings["batch_size"],
            "--timesteps": args.timesteps,
        }
    )
    if args.quick and _model_takes(config, "timesteps"):
        settings["overrides"] = {"timesteps": 1, "gradient_steps": 1, **settings["overrides"]}
        settings["quick"] = True
    return config, settings


class Phases:
    """Print each phase of the report to stderr as it starts, with the seconds since the first."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, name: str) -> None:
        """Announce phase ``name``."""
        self.note(f"{name} ({time.perf_counter() - self.start:.1f} s)")

    def note(self, text: str) -> None:
        """Print one line of progress."""
        print(f"memory-report: {text}", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _model_class(config: dict[str, Any]) -> str:
    model = ((config["model"].get("init_args") or {}).get("model")) or {}
    name = str(model.get("class_path", "the task's default model")).rsplit(".", 1)[-1]
    variant = (model.get("init_args") or {}).get("variant")
    return f"{name}, variant {variant}" if variant else name


def _model_takes(config: dict[str, Any], key: str) -> bool:
    """Whether the config's model class takes argument ``key`` (imports only that class)."""
    import inspect

    from axion_terratorch.config import import_object

    model = ((config["model"].get("init_args") or {}).get("model")) or {}
    if not isinstance(model, dict) or "class_path" not in model:
        return False
    return key in inspect.signature(import_object(model["class_path"]).__init__).parameters


def _tile_size(data_args: dict[str, Any]) -> int:
    """The training tile side: ``data.init_args.tiles.tile_size`` (or a flat ``tile_size``)."""
    tiles = data_args.get("tiles") or {}
    for value in (tiles.get("tile_size") if isinstance(tiles, dict) else None, data_args.get("tile_size")):
        if value is not None:
            return int(value)
    msg = "no tile size: pass --tile-size or set data.init_args.tiles.tile_size in the config"
    raise ValueError(msg)
