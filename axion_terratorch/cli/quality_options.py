"""Command-line options of the quality check, shared by ``predict`` and ``check``."""

from __future__ import annotations

import argparse
import dataclasses

from axion_terratorch.inference.quality import QualityCheck

_HELP = {
    "max_imprint": "largest SAR imprint of the change (output - input) still accepted",
    "max_change_agreement": "largest SAR agreement of the change (output - input) itself still accepted",
    "agreement_envelope": "SAR agreement above which an image agrees with the SAR more than real optical images",
    "max_agreement_gain": "largest rise of the SAR agreement accepted above the envelope",
    "max_agreement_loss": "largest fall of the SAR agreement accepted",
}


def add_quality_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-imprint`` ... ``--max-agreement-loss``, defaulting to :class:`QualityCheck`'s values."""
    group = parser.add_argument_group("quality check (docs/quality.md)")
    for field in dataclasses.fields(QualityCheck):
        flag = "--" + field.name.replace("_", "-")
        group.add_argument(flag, type=float, default=field.default, help=f"{_HELP[field.name]} (%(default)s)")


def quality_check(args: argparse.Namespace) -> QualityCheck:
    """The :class:`QualityCheck` the arguments describe (``ValueError`` names a value out of range)."""
    return QualityCheck(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(QualityCheck)}
    )
