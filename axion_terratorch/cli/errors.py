"""One-line error reports of the ``axion-stage3`` commands."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

#: Exit status of a command refused for bad input (file, key or option named in the message).
INPUT_ERROR = 2
#: jsonargparse's lines around the reason of a refused union/subclass value, not the reason itself.
_WRAPPER_LINES = (
    "Does not validate against",
    "Expected a <class 'NoneType'>",
    "Subtypes:",
    "Errors:",
    "Given value",
)


def one_line(error: BaseException) -> str:
    """The reason of ``error`` on one line.

    jsonargparse nests the reason of a refused value (e.g. ``lora.rank must be >= 1, got 0``) inside
    lines listing the union's subtypes and the whole namespace given; the first nested reason that is
    not such a line is returned. Other multi-line messages are joined with ``"; "``.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(error).__name__
    reasons = [
        line.removeprefix("- ")
        for line in lines
        if line.startswith("- ") and not line.removeprefix("- ").startswith(_WRAPPER_LINES)
    ]
    if reasons:
        return reasons[0]
    return "; ".join(line for line in lines if not line.startswith(_WRAPPER_LINES)) or lines[0]


def report(command: str, error: BaseException) -> int:
    """Print ``axion-stage3 <command>: error: <reason>`` to stderr; return :data:`INPUT_ERROR`.

    The traceback is logged at DEBUG level (``logging.basicConfig(level=logging.DEBUG)`` shows it).
    """
    logger.debug("axion-stage3 %s failed", command, exc_info=error)
    print(f"axion-stage3 {command}: error: {one_line(error)}", file=sys.stderr)  # noqa: T201
    return INPUT_ERROR
