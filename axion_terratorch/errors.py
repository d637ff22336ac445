"""Error messages on one line: what the commands print and the scene writer records for a failed scene."""

from __future__ import annotations

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
