"""A benchmark's JSON result: the command that produced it, the machine a timing depends on, and a
file replaced atomically (an interrupted run leaves the previous result intact)."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from axion_terratorch.atomic import atomic_path


def machine() -> dict[str, Any]:
    """torch's version, the processor and torch's thread count."""
    return {
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }


def write_result(path: Path, script: str, argv: Sequence[str] | None, result: Mapping[str, Any]) -> None:
    """Write ``{"command": "python benchmarks/<script> <argv>", **result}`` to ``path`` as indented JSON.

    ``script`` is the benchmark's ``__file__``.
    """
    command = " ".join(["python", f"benchmarks/{Path(script).name}", *(argv or [])])
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"command": command, **result}, indent=2) + "\n")
