# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 export``: export the LoRA adapter or merged weights of a checkpoint (or of a run's best)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from axion_terratorch.cli.options import add_model_arguments, check_config_argument

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``export``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="checkpoint to export")
    source.add_argument("--run-dir", help="run folder: export its best checkpoint (*.ckpt under it)")
    parser.add_argument(
        "--select",
        choices=["fidelity", "composite", "sar_agreement"],
        default="fidelity",
        help="how --run-dir picks: val/psnr, the composite (docs/inference.md) or val/sar_agreement",
    )
    parser.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="METRIC=W",
        help="composite weight, e.g. val/ssim=0.5 (repeatable)",
    )
    parser.add_argument("--output", required=True, help="export folder")
    parser.add_argument("--merged", action="store_true", help="export merged weights instead of the adapter")
    add_model_arguments(parser, run=False)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing export folder")


def run(args: argparse.Namespace) -> int:
    """Export; exit 2 on a usage or input error."""
    from axion_terratorch.checkpoints.export import export_checkpoint
    from axion_terratorch.checkpoints.selection import rank_checkpoints
    from axion_terratorch.cli.errors import report

    try:
        check_config_argument(args)
        provenance: dict[str, object] = {}
        checkpoint = args.checkpoint
        if args.run_dir:
            candidates = sorted(Path(args.run_dir).glob("**/*.ckpt"))
            if not candidates:
                what = "holds no .ckpt file" if Path(args.run_dir).is_dir() else "no such folder"
                msg = f"--run-dir {args.run_dir}: {what}"
                raise FileNotFoundError(msg)
            weights = dict(_weight(item) for item in args.weight) or None
            ranked = rank_checkpoints(candidates, args.select, args.run_dir, weights)
            checkpoint = ranked[0].path
            provenance["selection"] = {
                "criterion": args.select,
                "ranking": [{"checkpoint": str(r.path), "score": r.score, **r.metrics} for r in ranked],
            }
            print(
                f"best of {len(ranked)} checkpoints by {args.select}: {checkpoint} (score {ranked[0].score:.4f})"
            )
        kind = "merged" if args.merged else "adapter"
        folder = export_checkpoint(checkpoint, args.output, kind, args.config, args.overwrite, provenance)
    except (ValueError, TypeError, OSError) as err:  # CheckpointError, FileExistsError included
        return report("export", err)
    print(f"exported {kind} of {checkpoint} to {folder}")
    return 0


def _weight(item: str) -> tuple[str, float]:
    """``"val/ssim=0.5"`` -> ``("val/ssim", 0.5)``."""
    name, _, value = item.partition("=")
    try:
        weight = float(value)
    except ValueError:
        weight = None
    if not name or weight is None:
        msg = f"--weight expects METRIC=NUMBER, got {item!r}"
        raise ValueError(msg)
    return name, weight
