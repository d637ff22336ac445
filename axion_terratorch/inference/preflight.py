"""Checks a command runs before its long work: device, YAML files, writable folders, free disk space.

Each raises a ``ValueError`` (or ``OSError``) whose one-line message names the option or file and the
fix, so ``axion-stage3`` reports it with exit status 2 before a model is built or a window is read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

GB = 1e9


def check_device(device: str, option: str = "--device") -> torch.device:
    """Return ``torch.device(device)`` if it is available on this machine.

    Raises:
        ValueError: If ``device`` is not a torch device name, or names a CUDA/MPS device this machine
            does not have (e.g. ``cuda`` without a GPU).
    """
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        msg = f"{option} {device}: not a torch device ({error}); use e.g. cpu, cuda or cuda:1"
        raise ValueError(msg) from error
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            msg = f"{option} {device}: no CUDA GPU is available on this machine; use {option} cpu"
            raise ValueError(msg)
        if parsed.index is not None and parsed.index >= count:
            msg = f"{option} {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            raise ValueError(msg)
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        msg = f"{option} {device}: the MPS backend is not available on this machine; use {option} cpu"
        raise ValueError(msg)
    return parsed


def read_yaml(path: str | os.PathLike[str], option: str) -> dict[str, Any]:
    """Read a YAML mapping, naming ``option`` and the file (and the line of a syntax error) on failure.

    Raises:
        FileNotFoundError: If ``path`` is not a file.
        ValueError: If it is not valid YAML.
        TypeError: If it holds no mapping.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{option} {path}: file not found"
        raise FileNotFoundError(msg)
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        msg = f"{option} {path}: not valid YAML{where} ({problem}); fix the file"
        raise ValueError(msg) from error
    if not isinstance(data, dict):
        msg = f"{option} {path}: expected a YAML mapping (keys such as model:, data:), got {type(data).__name__}"
        raise TypeError(msg)
    return data


def check_writable(folder: str | os.PathLike[str], option: str) -> Path:
    """Check that files can be written in ``folder`` (or, while it does not exist, in its nearest parent).

    Writes and removes a probe file instead of asking ``os.access``: that also catches read-only mounts,
    immutable folders and runs as root. Creates nothing.

    Returns:
        The existing folder probed (where free space is counted).

    Raises:
        OSError: If that folder cannot be written; the message names it and ``option``.
    """
    probed = Path(folder).absolute()
    while not probed.exists() and probed != probed.parent:
        probed = probed.parent
    try:
        if not probed.is_dir():
            msg = f"{probed} is not a folder"
            raise NotADirectoryError(msg)
        with tempfile.TemporaryFile(dir=probed, prefix=".axion-write-probe."):
            pass
    except OSError as error:
        msg = f"{option}: cannot write in {probed} ({error.strerror or error}); choose a writable folder"
        raise OSError(msg) from error
    return probed


def check_free_space(folder: str | os.PathLike[str], needed: int, what: str, option: str) -> None:
    """Refuse to start when ``folder``'s file system has less than ``needed`` bytes free.

    Raises:
        OSError: Naming ``what`` needs the space, both sizes and ``option`` to change.
    """
    free = shutil.disk_usage(folder).free
    if needed > free:
        msg = (
            f"{what} needs {needed / GB:.1f} GB in {folder} but only {free / GB:.1f} GB are free; "
            f"free some space or set {option} to a folder on a larger disk"
        )
        raise OSError(msg)
