# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""The measured memory budget of the shipped configs over a grid of settings (docs/performance.md).

For each config (and each ``--frozen-dtype`` of a generative model) the task is built once, as
``axion-stage3 memory-report`` builds it (pretrained downloads off); then each ``--timesteps`` x
``--checkpoint-steps`` setting of a generative model is one measured training step
(:func:`axion_terratorch.profiling.memory.measure_training_memory`). A model without those settings
(the residual one) is measured once.

Usage (the docs table: base, 224 px, 16-mixed, batch 1; several minutes and up to ~10 GB of RAM)::

    python benchmarks/memory_budget.py --tile-size 224 --timesteps 10 20 \\
        --checkpoint-steps true false --frozen-dtype float16 float32 --json benchmarks/memory_budget_224.json

A quick run: ``--variant tiny --tile-size 64 --timesteps 2``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from result_files import machine, write_result

from axion_terratorch.profiling.budget import GIB, format_bytes
from axion_terratorch.profiling.memory import measure_training_memory
from axion_terratorch.profiling.task_config import build_task, load_config

CONFIGS = ("configs/stage3.lowvr.yaml", "configs/stage3.residual.lowvr.yaml")


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    msg = f"expected true or false, got {text!r}"
    raise argparse.ArgumentTypeError(msg)


def run(args: argparse.Namespace) -> list[dict]:
    rows = []
    for config_path in args.configs:
        config = load_config(config_path)
        model_class = config["model"]["init_args"]["model"]["class_path"]
        generative = model_class.endswith("GenerativeGrounding")
        for frozen_dtype in args.frozen_dtype if generative else [None]:
            overrides = {"variant": args.variant} if args.variant else {}
            if frozen_dtype is not None:
                overrides["frozen_dtype"] = frozen_dtype
            torch.manual_seed(0)
            task = build_task(config["model"], overrides)
            settings = (
                [(t, c) for t in args.timesteps for c in args.checkpoint_steps] if generative else [None]
            )
            for setting in settings:
                if setting is not None:
                    task.model.timesteps, task.model.checkpoint_steps = setting
                start = time.perf_counter()
                budget = measure_training_memory(
                    task, batch_size=args.batch_size, tile_size=args.tile_size, precision=args.precision
                )
                row = {"config": config_path, "seconds": time.perf_counter() - start, **budget.to_dict()}
                rows.append(row)
                print(f"{config_path}: {budget.model_settings}", flush=True)
                print(budget.table(), flush=True)
                print(flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    """One line per measurement: the seed's components, the total and the peak."""
    header = (
        "| config | settings | frozen weights | adapters | gradients | optimizer | activations "
        "| total | peak | trainable share |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        settings = ", ".join(f"{k} {v}" for k, v in row["model_settings"].items())
        values = [
            row[k]
            for k in (
                "frozen_bytes",
                "adapter_bytes",
                "gradient_bytes",
                "optimizer_bytes",
                "activation_bytes",
                "total_bytes",
                "peak_bytes",
            )
        ]
        cells = " | ".join(format_bytes(v) for v in values)
        lines.append(
            f"| {Path(row['config']).name} | {settings} | {cells} | {100 * row['trainable_share']:.3f}% |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--variant", default=None, help="override the model variant (e.g. tiny)")
    parser.add_argument("--tile-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--precision", default="16-mixed")
    parser.add_argument("--timesteps", type=int, nargs="+", default=[10])
    parser.add_argument("--checkpoint-steps", type=_bool, nargs="+", default=[True])
    parser.add_argument(
        "--frozen-dtype", nargs="+", default=["float16"], choices=["float32", "float16", "bfloat16"]
    )
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = run(args)
    print(markdown(rows))
    if args.json is not None:
        peak = max(row["peak_bytes"] for row in rows) / GIB
        write_result(args.json, __file__, argv, {**machine(), "rows": rows, "max_peak_gib": peak})
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
