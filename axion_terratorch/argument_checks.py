"""Argument checks of the constructors, with one message form: ``<name> must be ..., got <value>``.

The names are the ones the user configures (``lora.rank``, ``cycle_weight``), so a refused value in
a YAML file or on the command line is found from the message alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def check_at_least(
    least: float,
    values: Mapping[str, float | None],
    suffix: str = "",
    hint: str = "",
    finite: bool = False,
) -> None:
    """Refuse the first of ``values`` below ``least`` (or, with ``finite``, not a finite number);
    ``None`` is not checked.

    Raises:
        ValueError: ``<name> must be >= <least><suffix>, got <value><hint>``, e.g. with
            ``suffix=" px"`` ``tile_size must be >= 16 px, got 8``; with ``finite``
            ``<name> must be a finite number >= <least>, got inf``.
    """
    for name, value in values.items():
        if value is None:
            continue
        if finite and not math.isfinite(value):
            msg = f"{name} must be a finite number >= {least}{suffix}, got {value}{hint}"
            raise ValueError(msg)
        if value < least:
            what = "a finite number >= " if finite else ">= "
            msg = f"{name} must be {what}{least}{suffix}, got {value}{hint}"
            raise ValueError(msg)


def check_positive(values: Mapping[str, float]) -> None:
    """Refuse the first of ``values`` that is not > 0 (NaN included).

    Raises:
        ValueError: ``<name> must be > 0, got <value>``.
    """
    for name, value in values.items():
        if not value > 0:
            msg = f"{name} must be > 0, got {value}"
            raise ValueError(msg)


def check_fraction(values: Mapping[str, float]) -> None:
    """Refuse the first of ``values`` outside ``[0, 1)`` (NaN included).

    Raises:
        ValueError: ``<name> must be in [0, 1), got <value>``.
    """
    for name, value in values.items():
        if not 0 <= value < 1:
            msg = f"{name} must be in [0, 1), got {value}"
            raise ValueError(msg)
