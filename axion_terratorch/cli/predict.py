# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 predict``: ground a Sentinel-1 / optical GeoTIFF pair of any size."""

from __future__ import annotations

import argparse
import logging

from axion_terratorch.cli.check import verdict_details
from axion_terratorch.cli.options import (
    add_model_arguments,
    add_quality_arguments,
    add_scene_arguments,
    add_units_argument,
    check_config_argument,
    print_lpips_note,
    quality_check,
)

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``predict``."""
    parser.add_argument(
        "--checkpoint", required=True, help="SARGroundingTask checkpoint (.ckpt) of `terratorch fit`"
    )
    add_scene_arguments(parser, "optical (Stage 2) GeoTIFF on the same grid")
    parser.add_argument(
        "--output", required=True, help="output GeoTIFF; its sidecar is written beside it (.json)"
    )
    parser.add_argument(
        "--bands",
        nargs="+",
        help="names of the optical file's bands in file order (default: its descriptions)",
    )
    add_units_argument(parser, "optical")
    parser.add_argument(
        "--dn",
        action="store_true",
        help="write uint16 DN (reflectance x 10000) instead of float32 reflectance",
    )
    parser.add_argument("--window", type=int, default=256, help="model window in px")
    parser.add_argument("--overlap", type=int, default=32, help="overlap of neighbouring windows in px")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per forward pass")
    parser.add_argument("--precision", choices=["32", "16", "bf16"], default="32")
    parser.add_argument("--timesteps", type=int, help="diffusion steps of a generative model")
    parser.add_argument(
        "--fallback",
        choices=["none", "input"],
        default="none",
        help="input: where a window fails the quality check, write the input there (no-harm mode)",
    )
    add_model_arguments(parser)
    add_quality_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Ground the scene and print a one-line summary. Exit 2 on bad input, one line (nothing is written then)."""
    from axion_terratorch.cli.errors import report
    from axion_terratorch.inference.pipeline import predict_scene
    from axion_terratorch.inference.scene import GroundingOptions
    from axion_terratorch.inference.sidecar import sidecar_path

    try:
        check_config_argument(args)
        options = GroundingOptions(
            window=args.window,
            overlap=args.overlap,
            batch_size=args.batch_size,
            precision=args.precision,
            device=args.device,
            dn=args.dn,
            progress=not args.quiet,
            fallback=args.fallback,
            check=quality_check(args),
        )
        sidecar = predict_scene(
            args.checkpoint,
            args.s1,
            args.optical,
            args.output,
            options,
            optical_bands=args.bands,
            optical_units=args.optical_units,
            timesteps=args.timesteps,
            lpips=args.lpips,
            config=args.config,
        )
    except (ValueError, TypeError, OSError) as err:  # SceneInputError, CheckpointError included
        return report("predict", err)
    fallback = (
        ""
        if sidecar["fallback_windows"] is None
        else f", {sidecar['fallback_windows']} window(s) fell back to the input"
    )
    print(
        f"{sidecar['output']}: {sidecar['quality_flag']}{verdict_details(sidecar)}{fallback}"
        f" (sidecar {sidecar_path(args.output)})"
    )
    print_lpips_note(args, sidecar["lpips_note"])
    return 0
