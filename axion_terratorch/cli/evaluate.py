# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 evaluate``: score a checkpoint (or the Stage 2 input) over a dataset, or compare two runs."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from axion_terratorch.cli.options import add_model_arguments, check_config_argument, print_lpips_note
from axion_terratorch.constants import DEFAULT_BANDS

logger = logging.getLogger(__name__)
#: Files ``evaluate`` writes into ``--output-dir`` (with ``--compare``: the first alone).
COMPARISON = ("comparison.json",)
REPORT_FILES = (
    *COMPARISON,
    "tiles.csv",
    "summary.json",
    "panel_best.png",
    "panel_median.png",
    "panel_worst.png",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``evaluate``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="SARGroundingTask checkpoint (.ckpt)")
    source.add_argument("--identity", action="store_true", help="score the Stage 2 input itself (baseline)")
    source.add_argument(
        "--compare", nargs=2, metavar=("BASELINE_CSV", "RUN_CSV"), help="paired comparison of two tiles.csv"
    )
    parser.add_argument(
        "--data", help="YAML with a data module class_path (a run config's `data:` or the section)"
    )
    parser.add_argument(
        "--split",
        choices=["val", "test", "predict"],
        default="test",
        help="which of the data module's dataloaders is scored (its val_/test_/predict_dataloader)",
    )
    parser.add_argument(
        "--output-dir", help="report folder (tiles.csv, summary.json, panels, comparison.json)"
    )
    parser.add_argument(
        "--baseline", help="tiles.csv of another run over the same tiles, compared tile by tile"
    )
    parser.add_argument("--metric", default="sar_agreement", help="column compared by --compare")
    parser.add_argument("--bands", nargs="+", default=list(DEFAULT_BANDS), help="optical bands of --identity")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Write the report (or the comparison); exit 2 on a usage or input error (one line)."""
    from axion_terratorch.checkpoints.loading import load_model, read_checkpoint
    from axion_terratorch.cli.errors import report
    from axion_terratorch.evaluation.comparison import paired_comparison, read_tiles_csv
    from axion_terratorch.evaluation.loop import IdentityGrounding, build_datamodule, iterate_batches
    from axion_terratorch.evaluation.report import write_report
    from axion_terratorch.inference.statistics import optional_lpips
    from axion_terratorch.output_files import check_outputs, write_json
    from axion_terratorch.resources import check_device, check_writable

    try:
        if args.compare:
            baseline, current = args.compare
            check_outputs(
                {}, {"baseline": baseline, "run": current}, {"--output-dir": (args.output_dir, COMPARISON)}
            )
            result = paired_comparison(
                read_tiles_csv(baseline), read_tiles_csv(current), args.metric, ("baseline", "run")
            )
            if args.output_dir:
                write_json(Path(args.output_dir) / "comparison.json", result)
            print(_describe(result))
            return 0
        if not args.data or not args.output_dir:
            print("axion-stage3 evaluate: error: --data and --output-dir are needed", file=sys.stderr)
            return 2
        inputs = {
            "--checkpoint": args.checkpoint,
            "--config": args.config,
            "--data": args.data,
            "--baseline": args.baseline,
        }
        check_outputs({}, inputs, {"--output-dir": (args.output_dir, REPORT_FILES)})
        device = check_device(args.device)
        check_writable(args.output_dir, "--output-dir")
        check_config_argument(args)
        datamodule = build_datamodule(args.data)
        keys = {"target_key": "target", "mask_key": "valid_mask"}
        if args.identity:
            model = IdentityGrounding(args.bands)
        else:
            hparams = read_checkpoint(args.checkpoint).get("hyper_parameters") or {}
            keys = {
                "target_key": hparams.get("target_key", "target"),
                "mask_key": hparams.get("valid_mask_key", "valid_mask"),
            }
            model = load_model(args.checkpoint, args.config)
        model.to(device)
        lpips, note = optional_lpips(model.bands, args.lpips)
        metadata = {
            "model": "identity (Stage 2 input)" if args.identity else str(args.checkpoint),
            "data": str(args.data),
            "split": args.split,
            "lpips_note": note,
        }
        summary = write_report(
            model,
            lambda: iterate_batches(datamodule, args.split, device),
            args.output_dir,
            None if lpips is None else lpips.to(device),
            baseline=args.baseline,
            metadata=metadata,
            progress=not args.quiet,
            **keys,
        )
    except (ValueError, TypeError, OSError) as err:  # CheckpointError, BadTileError included
        return report("evaluate", err)
    print(
        f"{summary['n_tiles']} tiles: SAR agreement {summary['sar_agreement_input_mean']:.3f} -> "
        f"{summary['sar_agreement_mean']:.3f}, improved {100 * summary['share_improved']:.0f}%, "
        + (
            f"PSNR gain {summary['psnr_gain_mean']:+.2f} dB, "
            if summary["psnr_gain_mean"] is not None
            else ""
        )
        + f"quality check {summary['quality_flags']} (report in {args.output_dir})"
    )
    print_lpips_note(args, note)
    return 0


def _describe(result: dict[str, object]) -> str:
    return (
        f"{result['metric']} over {result['n']} tiles: mean difference {result['mean_difference']:+.4f}, "
        f"t = {result['t_statistic']:.3f}, p = {result['p_value']:.3g}, Cohen's d = {result['cohens_d']}"
    )
