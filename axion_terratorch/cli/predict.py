# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 predict``: ground a Sentinel-1 / optical GeoTIFF pair of any size."""

from __future__ import annotations

import argparse
import logging

from axion_terratorch.cli import predict_scenes
from axion_terratorch.cli.check import verdict_details
from axion_terratorch.cli.options import (
    add_model_arguments,
    add_quality_arguments,
    add_scene_arguments,
    add_units_argument,
    check_config_argument,
    output_options,
    print_lpips_note,
    reading_options,
    window_options,
)

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``predict``."""
    parser.add_argument(
        "--checkpoint", required=True, help="SARGroundingTask checkpoint (.ckpt) of `terratorch fit`"
    )
    add_scene_arguments(parser, "optical (Stage 2) GeoTIFF on the same grid", required=False)
    parser.add_argument("--output", help="output GeoTIFF; its sidecar is written beside it (.json)")
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
    parser.add_argument(
        "--precision",
        choices=["32", "16", "bf16"],
        default="32",
        help="32: float32; 16, bf16: the model under torch.autocast in that half type (output stays float32)",
    )
    parser.add_argument("--timesteps", type=int, help="diffusion steps of a generative model")
    parser.add_argument(
        "--fallback",
        choices=["none", "input"],
        default="none",
        help="input: where a window fails the quality check, write the input there (no-harm mode)",
    )
    add_model_arguments(parser)
    add_quality_arguments(parser)
    predict_scenes.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Ground the scene and print its verdict on one line.

    Exit 0 for ``production``; 3 for ``over-grounded``, ``preview-only`` or ``fallback`` (every
    window fell back to the input); 2 on bad input, one line (nothing is written then).
    """
    from axion_terratorch.argument_bounds import check_option_bounds, check_overlap
    from axion_terratorch.cli.errors import report, verdict_status
    from axion_terratorch.inference.pipeline import predict_scene
    from axion_terratorch.inference.scene import GroundingOptions
    from axion_terratorch.inference.sidecar import sidecar_path

    if predict_scenes.is_scene_list(args):
        return predict_scenes.run(args)
    try:
        predict_scenes.check_single_scene(args)
        check_config_argument(args)
        check_option_bounds(
            {
                "--window": args.window,
                "--overlap": args.overlap,
                "--batch-size": args.batch_size,
                "--timesteps": args.timesteps,
            }
        )
        check_overlap(args.window, args.overlap)
        options = GroundingOptions(device=args.device, **window_options(args), **output_options(args))
        sidecar = predict_scene(
            args.checkpoint,
            args.s1,
            args.optical,
            args.output,
            options,
            optical_bands=args.bands,
            timesteps=args.timesteps,
            lpips=args.lpips,
            config=args.config,
            **reading_options(args),
        )
    except (ValueError, TypeError, OSError) as err:  # SceneInputError, CheckpointError included
        return report("predict", err)
    print(f"{sidecar['output']}: {verdict_line(sidecar)} (sidecar {sidecar_path(args.output)})")
    print_lpips_note(args, sidecar["lpips_note"])
    return verdict_status(str(sidecar["quality_flag"]))


def verdict_line(sidecar: dict[str, object]) -> str:
    """``<flag>[: N of M windows], <scores>[, N of M window(s) fell back to the input]`` of a sidecar."""
    fell_back, windows = sidecar["fallback_windows"], sidecar.get("windows")
    if fell_back is None:
        return f"{sidecar['quality_flag']}{verdict_details(sidecar)}"
    share = f"{fell_back} of {windows} window(s)"
    if sidecar["quality_flag"] == "fallback":
        return f"fallback: {share} fell back to the input, nothing grounded{verdict_details(sidecar)}"
    return f"{sidecar['quality_flag']}{verdict_details(sidecar)}, {share} fell back to the input"
