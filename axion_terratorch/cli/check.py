# ruff: noqa: T201 - a command: its report goes to stdout
"""``axion-stage3 check``: judge any grounded image against its SAR and its input, without a model."""

from __future__ import annotations

import argparse

from axion_terratorch.cli.options import (
    DeprecatedAlias,
    add_lpips_switch,
    add_quality_arguments,
    add_scene_arguments,
    add_units_argument,
    print_lpips_note,
    quality_check,
    reading_options,
)
from axion_terratorch.constants import DEFAULT_BANDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``check``."""
    add_scene_arguments(parser, "the optical input (Stage 2 estimate) on the same grid")
    parser.add_argument("--grounded", required=True, help="the grounded optical GeoTIFF to judge")
    parser.add_argument("--json", help="write the report (predict's sidecar fields) to this file")
    parser.add_argument(
        "--compare-bands",
        nargs="+",
        default=list(DEFAULT_BANDS),
        help="bands compared (B02, B03, B04 needed)",
    )
    parser.add_argument(
        "--bands", nargs="+", dest="compare_bands", action=DeprecatedAlias, help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--optical-bands",
        nargs="+",
        help="names of the input's bands in file order, as predict's --bands (default: its descriptions)",
    )
    add_units_argument(parser, "optical")
    add_units_argument(parser, "grounded")
    add_lpips_switch(parser)
    add_quality_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Print the verdict; exit 0 for ``production``, 3 for another flag, 2 on bad input."""
    from axion_terratorch.cli.errors import report, verdict_status
    from axion_terratorch.evaluation.grounded_scene import check_grounded_scene
    from axion_terratorch.output_files import check_outputs, write_json

    try:
        if args.json:
            inputs = {"s1": args.s1, "optical": args.optical, "grounded": args.grounded}
            check_outputs({"--json report": args.json}, inputs)
        result = check_grounded_scene(
            args.s1,
            args.optical,
            args.grounded,
            bands=args.compare_bands,
            optical_bands=args.optical_bands,
            grounded_units=args.grounded_units,
            check=quality_check(args),
            lpips=args.lpips,
            **reading_options(args),
        )
        if args.json:
            write_json(args.json, result)
    except (ValueError, TypeError, OSError) as err:  # SceneInputError included
        return report("check", err)
    print(f"{args.grounded}: {result['quality_flag']}{verdict_details(result)}")
    print_lpips_note(args, result["lpips_note"])
    return verdict_status(result["quality_flag"])


def verdict_details(report: dict[str, object]) -> str:
    """``, SAR agreement a -> b, imprint i, change agreement c, band drift d (reasons)`` of a sidecar or check report."""

    def fmt(value: object) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    reasons = "; ".join(report["quality_reasons"])
    drifts = report["band_drift"] or {}
    drift = max(drifts.values(), key=abs) if drifts else None
    return (
        f", SAR agreement {fmt(report['sar_agreement_input'])} -> {fmt(report['sar_agreement'])},"
        f" imprint {fmt(report['sar_imprint'])}, change agreement {fmt(report['sar_agreement_change'])},"
        f" band drift {fmt(drift)}" + (f" ({reasons})" if reasons else "")
    )
