"""Atomic JSON and CSV writers of the reports."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence

from axion_terratorch.atomic import atomic_path


def write_json(path: str | os.PathLike[str], data: Mapping[str, object]) -> None:
    """Write ``data`` as indented JSON (NaN written as ``null``), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, object]]) -> None:
    """Write ``rows`` (dicts sharing the first row's keys) as CSV, atomically; ``None`` becomes empty."""
    if not rows:
        msg = f"no rows to write to {path}"
        raise ValueError(msg)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _finite(value: object) -> object:
    """Replace non-finite floats by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
