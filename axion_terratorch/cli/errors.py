"""One-line error reports and the exit statuses of the ``axion-stage3`` commands.

Every subcommand exits with one of these statuses (:data:`EXIT_STATUSES`, shown in ``--help``): a
script can gate on them without parsing the output.
"""

from __future__ import annotations

import logging
import sys

from axion_terratorch.errors import one_line

__all__ = [
    "EXIT_STATUSES",
    "FAILED",
    "FLAGGED",
    "INPUT_ERROR",
    "SUCCESS",
    "one_line",
    "report",
    "verdict_status",
]

logger = logging.getLogger(__name__)

#: Exit status of a command that did what was asked (``predict``/``check``: verdict ``production``).
SUCCESS = 0
#: Exit status of a command that ran but failed its own gate (``memory-report`` peak over
#: ``--max-gib``, a ``train --smoke`` run that stopped early); Python exits 1 on an unexpected error too.
FAILED = 1
#: Exit status of a command refused for bad input (file, key or option named in the message).
INPUT_ERROR = 2
#: Exit status when the output was written but is flagged: ``over-grounded``, ``preview-only``, or
#: ``fallback`` (every window fell back to the input, so nothing was grounded).
FLAGGED = 3
#: The convention, as ``--help`` shows it.
EXIT_STATUSES = (
    "exit status: 0 done (predict, check: verdict production); "
    "1 failed its own gate (memory-report: peak over --max-gib; train --smoke: stopped early) "
    "or an unexpected error; "
    "2 usage or input error (one line naming the file, key or option); "
    "3 output written but flagged (over-grounded, preview-only, or fallback: every window fell back "
    "to the input); "
    "130/143 interrupted by SIGINT/SIGTERM."
)


def report(command: str, error: BaseException) -> int:
    """Print ``axion-stage3 <command>: error: <reason>`` to stderr; return :data:`INPUT_ERROR`.

    The traceback is logged at DEBUG level (``logging.basicConfig(level=logging.DEBUG)`` shows it).
    """
    logger.debug("axion-stage3 %s failed", command, exc_info=error)
    print(f"axion-stage3 {command}: error: {one_line(error)}", file=sys.stderr)  # noqa: T201
    return INPUT_ERROR


def verdict_status(flag: str) -> int:
    """:data:`SUCCESS` for the verdict ``production``, :data:`FLAGGED` for any other."""
    return SUCCESS if flag == "production" else FLAGGED
