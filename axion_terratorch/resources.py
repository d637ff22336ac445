"""The machine resources a command needs, checked before its long work: an available device, writable
folders, free disk space (argument values: :mod:`axion_terratorch.argument_bounds`; YAML files:
:func:`axion_terratorch.config.read_yaml`).

Each raises a ``ValueError`` (or ``OSError``) whose one-line message names the option or file and the
fix, so ``axion-stage3`` reports it with exit status 2 before a model is built or a window is read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

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
