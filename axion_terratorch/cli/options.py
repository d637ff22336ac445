"""Command-line options shared by several subcommands: each option is defined once, here."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, get_args

from axion_terratorch.constants import OpticalUnits
from axion_terratorch.inference.quality import QualityCheck

_HELP = {
    "max_imprint": "largest SAR imprint of the change (output - input) still accepted",
    "max_change_agreement_excess": "largest excess of the change's SAR agreement over the image's own still accepted",
    "agreement_envelope": "SAR agreement above which an image agrees with the SAR more than real optical images",
    "max_agreement_gain": "largest rise of the SAR agreement accepted above the envelope",
    "max_agreement_loss": "largest fall of the SAR agreement accepted",
    "max_band_drift": "largest relative change of a band's level across the tile accepted",
}


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores like the new one and says on stderr which to use."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        new = "--" + self.dest.replace("_", "-")
        print(f"{parser.prog}: {option_string} is deprecated, use {new}", file=sys.stderr)  # noqa: T201
        setattr(namespace, self.dest, values)


def add_scene_arguments(parser: argparse.ArgumentParser, optical_help: str, required: bool = True) -> None:
    """``--s1`` and ``--optical``: the GeoTIFF pair of a scene (``predict``, ``check``)."""
    parser.add_argument(
        "--s1", required=required, help="Sentinel-1 GRD GeoTIFF, VV and VH in dB or linear power"
    )
    parser.add_argument("--optical", required=required, help=optical_help)
    parser.add_argument(
        "--s1-units",
        choices=["auto", "db", "power", "amplitude"],
        default="auto",
        help="auto: dB, or linear power when non-negative with a median below 1 (linear amplitude is refused)",
    )
    parser.add_argument(
        "--optical-nodata",
        type=float,
        help="optical nodata value for a file that declares none (default 0; -9999, -32768 or 65535 must be named)",
    )


def named_options(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options ``names`` (their ``dest``, e.g. ``on_error`` for ``--on-error``) as keyword
    arguments of the same names."""
    return {name: getattr(args, name) for name in names}


def reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """How a scene's files are read (``--optical-units``, ``--s1-units``, ``--optical-nodata``), as the
    keyword arguments of ``check_grounded_scene``, ``predict_scene`` and ``SceneListDataModule``."""
    return named_options(args, "optical_units", "s1_units", "optical_nodata")


def window_options(args: argparse.Namespace) -> dict[str, Any]:
    """``predict``'s model windows (``--window``, ``--overlap``, ``--batch-size``), as keyword arguments
    of ``GroundingOptions`` (one scene) and ``SceneListDataModule`` (a list)."""
    return named_options(args, "window", "overlap", "batch_size")


def output_options(args: argparse.Namespace) -> dict[str, Any]:
    """How ``predict`` computes, checks and writes a grounded scene (``--dn``, ``--precision``,
    ``--fallback``, the quality thresholds, ``--quiet``), as keyword arguments of ``GroundingOptions``
    (one scene) and ``SceneWriter`` (a list). ``ValueError`` names a threshold out of range."""
    return {
        "dn": args.dn,
        "precision": args.precision,
        "fallback": args.fallback,
        "check": quality_check(args),
        "progress": not args.quiet,
    }


def add_units_argument(parser: argparse.ArgumentParser, image: str = "optical") -> None:
    """``--<image>-units``: how an optical GeoTIFF's values are read (``auto``, ``reflectance``, ``dn``)."""
    parser.add_argument(
        f"--{image}-units",
        choices=get_args(OpticalUnits),
        default="auto",
        help="auto: DN when the 99th percentile is above 2, else reflectance",
    )


def add_model_arguments(parser: argparse.ArgumentParser, *, run: bool = True) -> None:
    """``--config`` (the run's YAML, for checkpoints without a model config) and, with ``run``,
    ``--device``, ``--lpips``/``--no-lpips`` and ``--quiet`` of a command that runs the model."""
    parser.add_argument("-c", "--config", help="the run's YAML, for checkpoints without a model config")
    if run:
        add_device_argument(parser)
        add_lpips_switch(parser)
        parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """``--device``: the torch device the model runs on (default ``cpu``)."""
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1 (default cpu)")


def add_lpips_switch(parser: argparse.ArgumentParser) -> None:
    """``--lpips`` / ``--no-lpips`` set ``args.lpips`` to True / False; by default (None) the LPIPS
    change is computed when its backbone weights are on this machine, else left out with one line."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--lpips",
        action="store_const",
        const=True,
        default=None,
        help="compute the LPIPS change, downloading torchvision's AlexNet weights if they are not here "
        "(default: only when they are)",
    )
    group.add_argument(
        "--no-lpips", dest="lpips", action="store_const", const=False, help="leave the LPIPS change out"
    )


def print_lpips_note(args: argparse.Namespace, note: object) -> None:
    """Print, in one line on stderr, why the LPIPS change was left out when the user did not choose."""
    if args.lpips is None and note:
        print(note, file=sys.stderr)  # noqa: T201 - the one line a user sees


def check_config_argument(args: argparse.Namespace) -> None:
    """Read ``--config`` once before the work, so a missing or malformed file is refused first.

    Raises:
        ValueError: Naming ``--config`` and the file (:func:`~axion_terratorch.config.read_yaml`).
    """
    from axion_terratorch.config import read_yaml

    if args.config:
        read_yaml(args.config, "--config")


def add_quality_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-imprint`` ... ``--max-agreement-loss``, defaulting to :class:`QualityCheck`'s values."""
    group = parser.add_argument_group("quality check (docs/quality.md)")
    for field in dataclasses.fields(QualityCheck):
        flag = "--" + field.name.replace("_", "-")
        group.add_argument(
            flag, type=float, default=field.default, help=f"{_HELP[field.name]} (default: %(default)s)"
        )


def quality_check(args: argparse.Namespace) -> QualityCheck:
    """The :class:`QualityCheck` the arguments describe (``ValueError`` names a value out of range)."""
    return QualityCheck(**named_options(args, *(field.name for field in dataclasses.fields(QualityCheck))))
