"""The files a command writes: atomic JSON and CSV reports, outputs refused when they would overwrite an
input, and a written GeoTIFF read back (a full disk shows only on closing)."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import PathLike


def check_outputs(
    outputs: Mapping[str, PathLike | None],
    inputs: Mapping[str, PathLike | None],
    folders: Mapping[str, tuple[PathLike | None, Sequence[str] | None]] | None = None,
) -> None:
    """Refuse outputs that would overwrite an input or another output, before any work.

    Two paths are the same file when :func:`os.path.samefile` says so (symbolic and hard links), or,
    for a path that does not exist yet, when they resolve to the same path.

    Args:
        outputs: Output files by role (e.g. ``{"--output": ..., "sidecar": ...}``); ``None`` is skipped.
        inputs: Every file or folder the command reads, by role; ``None`` is skipped.
        folders: Output folders by role, with the names of the files written into them, or ``None``
            for a folder replaced as a whole (then no input may lie inside it).

    Raises:
        ValueError: One line naming the path and the two roles.
    """
    given = {role: Path(path) for role, path in inputs.items() if path is not None}
    written: dict[str, Path] = {}
    for role, path in outputs.items():
        if path is not None:
            written[role] = Path(path)
    for role, (folder, names) in (folders or {}).items():
        if folder is None:
            continue
        if names is None:
            for input_role, path in given.items():
                if _inside(path, Path(folder)):
                    msg = f"{role} {folder} would replace a folder holding the {input_role} input {path}; choose another folder"
                    raise ValueError(msg)
        else:
            written.update({f"{role} file {name}": Path(folder) / name for name in names})
    taken = {f"the {role} input": path for role, path in given.items()}
    for role, path in written.items():
        for other, existing in taken.items():
            if same_file(path, existing):
                msg = f"{role} {path} would overwrite {other} ({existing}); choose another path"
                raise ValueError(msg)
        taken[f"the {role}"] = path


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file: :func:`os.path.samefile` when both exist, else
    equal resolved paths."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (links resolved)."""
    resolved, root = path.resolve(), folder.resolve()
    return (
        resolved == root
        or resolved.is_relative_to(root)
        or (path.exists() and folder.exists() and same_file(path, folder))
    )


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


#: Free bytes below which a failed write is put down to a full disk.
FULL_DISK_BYTES = 64 * 2**20


def write_failure(path: PathLike, error: BaseException) -> str:
    """One line saying that writing ``path`` failed, GDAL's or the system's reason, and the free space."""
    folder = Path(path).absolute().parent
    cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < FULL_DISK_BYTES:
        disk = f"the disk of {folder} is full ({free / 2**20:.0f} MB free): free some space or choose another folder"
    else:
        where = "" if free is None else f" ({free / 1e9:.1f} GB free in {folder})"
        disk = f"a full disk, quota or file size limit{where}? earlier outputs are unchanged"
    return f"cannot write {path}: {cause}; {disk}"


def check_written_raster(path: PathLike, final: PathLike) -> None:
    """Re-open the GeoTIFF just written to ``path`` (a temporary for ``final``) and check its blocks lie
    within the file: GDAL reports some failed writes (a full disk) only as a log line on closing.

    Raises:
        OSError: One line naming ``final`` and the cause (:func:`write_failure`).
    """
    import rasterio
    from rasterio.errors import RasterioError

    from axion_terratorch.datasets.errors import BadTileError
    from axion_terratorch.datasets.raster import check_blocks

    try:
        with rasterio.open(path) as src:
            check_blocks(src, Path(path), src.indexes)
    except (RasterioError, BadTileError) as error:
        raise OSError(write_failure(final, error)) from error
