"""The axion-stage3 command line: train, predict, check, evaluate, export, memory-report.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
modules are imported only when their subcommand runs, so ``axion-stage3 --help`` stays fast. A module
that sets ``PASSTHROUGH = True`` receives unrecognised arguments as ``args.passthrough`` (``train``
hands them to LightningCLI). SIGINT and SIGTERM interrupt a subcommand with an exception, so its
temporary files are removed (exit ``128 + signal``), except in a module that sets
``OWN_SIGNALS = True`` (``train``: Lightning handles signals during ``fit``). Exit statuses follow one
convention (:data:`~axion_terratorch.cli.errors.EXIT_STATUSES`), printed under every ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from axion_terratorch.cli.errors import EXIT_STATUSES
from axion_terratorch.cli.interrupts import Interrupted, signals_raise
from axion_terratorch.custom_modules import block_custom_modules

#: Subcommand name -> (module under ``axion_terratorch.cli``, one-line help).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "Train a config with the original training script's flags (a LightningCLI fit run)."),
    "predict": ("predict", "Ground a Sentinel-1/optical GeoTIFF pair of any size."),
    "check": ("check", "Judge any grounded GeoTIFF against its SAR and input (no model)."),
    "evaluate": ("evaluate", "Score a checkpoint (or the Stage 2 input) over a dataset."),
    "export": ("export", "Export the LoRA adapter or merged weights of a checkpoint."),
    "memory-report": ("memory_report", "Measure the training memory budget of a config."),
}


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, appending ``(default: X)`` to options whose default is a value.

    Options without a default (``None``), switches (``False``) and help texts that already name
    their default are left as they are.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            or "default" in text
        ):
            return action.help
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def subcommand_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``axion-stage3 <command>`` (its arguments are added by the subcommand's module)."""
    return argparse.ArgumentParser(
        prog=f"axion-stage3 {command}",
        description=SUBCOMMANDS[command][1],
        epilog=EXIT_STATUSES,
        formatter_class=HelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; subcommand arguments are added when that subcommand is chosen."""
    parser = argparse.ArgumentParser(
        prog="axion-stage3", description=__doc__.splitlines()[0], epilog=EXIT_STATUSES
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``axion-stage3`` and ``python -m axion_terratorch.cli``."""
    known, rest = build_parser().parse_known_args(argv)
    block_custom_modules()  # AXION_NO_CUSTOM_MODULES=1: terratorch does not import ./custom_modules
    module_name = SUBCOMMANDS[known.command][0]
    module = importlib.import_module(f"axion_terratorch.cli.{module_name}")
    parser = subcommand_parser(known.command)
    module.add_arguments(parser)
    args, extra = parser.parse_known_args(rest)
    if extra and not getattr(module, "PASSTHROUGH", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.passthrough = extra
    if getattr(module, "OWN_SIGNALS", False):
        return module.run(args)
    try:
        with signals_raise():
            return module.run(args)
    except Interrupted as interrupted:
        print(  # noqa: T201 - the command's last word
            f"axion-stage3 {known.command}: interrupted ({interrupted}); temporary files removed, "
            "earlier outputs unchanged",
            file=sys.stderr,
        )
        return 128 + interrupted.signum
