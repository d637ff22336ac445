"""Bounds of argument values: the constructors' (one message form: ``<name> must be ..., got <value>``)
and the command-line options' that set how much work a command does.

The names are the ones the user configures (``lora.rank``, ``cycle_weight``, ``--overlap``), so a
refused value in a YAML file or on the command line is found from the message alone.
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


#: ``(low, high)`` of a generative model's denoising steps: ``--timesteps`` and its config field.
TIMESTEPS_BOUNDS = (1, 1000)
#: ``(low, high)`` of the options that set how much work a command does, by option name.
OPTION_BOUNDS: dict[str, tuple[int, int]] = {
    "--window": (16, 8192),
    "--overlap": (0, 4096),
    "--batch-size": (1, 4096),
    "--tile-size": (16, 8192),
    "--timesteps": TIMESTEPS_BOUNDS,
}


def check_option_bounds(values: dict[str, int | None]) -> None:
    """Refuse an option outside :data:`OPTION_BOUNDS` (``None``: not given), before any work.

    Raises:
        ValueError: One line naming the option, its value and the range.
    """
    for option, value in values.items():
        if value is None:
            continue
        low, high = OPTION_BOUNDS[option]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            msg = f"{option} {value}: must be an integer from {low} to {high}"
            raise ValueError(msg)


def check_overlap(window: int, overlap: int) -> None:
    """Refuse an overlap above half the window: each pixel would be computed more than four times.

    Raises:
        ValueError: Naming both options.
    """
    if overlap > window // 2:
        msg = f"--overlap {overlap} is more than half of --window {window}; use at most {window // 2}"
        raise ValueError(msg)
