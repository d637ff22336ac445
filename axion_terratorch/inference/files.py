"""Atomic JSON and CSV writers of the reports."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from axion_terratorch.atomic import atomic_path


def check_outputs(
    outputs: Mapping[str, str | os.PathLike[str]], inputs: Mapping[str, str | os.PathLike[str]]
) -> None:
    """Refuse output paths that would overwrite an input or another output (symlinks resolved).

    Args:
        outputs: Output files by role (e.g. ``{"output": ..., "sidecar": ...}``).
        inputs: Input files by role.

    Raises:
        ValueError: Naming the path and the two roles.
    """
    taken = {Path(path).resolve(): f"the {role} input" for role, path in inputs.items()}
    for role, path in outputs.items():
        resolved = Path(path).resolve()
        if resolved in taken:
            msg = f"{role} {path} would overwrite {taken[resolved]}; choose another path"
            raise ValueError(msg)
        taken[resolved] = f"the {role}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 16 MiB chunks (memory flat in the file's size)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(16 * 2**20):
            digest.update(chunk)
    return digest.hexdigest()


def write_json(path: str | os.PathLike[str], data: Mapping[str, object]) -> None:
    """Write ``data`` as indented JSON (NaN written as ``null``), atomically."""
    with atomic_path(path) as tmp:
        dump_json(tmp, data)


def dump_json(path: str | os.PathLike[str], data: Mapping[str, object]) -> None:
    """Write ``data`` as indented JSON (NaN written as ``null``) straight to ``path``."""
    Path(path).write_text(json.dumps(_finite(data), indent=2, sort_keys=False) + "\n")


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
