"""Atomic file writes: a reader sees the old file(s) or the complete new one(s), never a partial write.

Temporary files are written beside their target (same file system, so the final rename is atomic)
and named ``.<target name>.<8 random characters><suffix>``, which :func:`remove_stale_temporaries`
recognises when a killed process (SIGKILL, power loss) left them behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Suffix of the temporary files of :func:`atomic_path` and :func:`atomic_paths`.
TMP_SUFFIX = ".tmp"
#: The signals held off while :func:`atomic_paths` renames its files (POSIX only).
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` in one step.

    Write the file to the yielded path (with any library). If the block raises, the temporary file
    is removed and ``path`` is left as it was. The rename is atomic on POSIX and Windows when both
    paths are on the same file system, which holds because the temporary file is in the same folder.

    Raises:
        OSError: If the folder is not writable, ``path`` is a folder or the write fails; the message
            names ``path``.
    """
    with atomic_paths(path) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike[str]) -> Iterator[tuple[Path, ...]]:
    """Yield one temporary path beside each of ``paths``; when the block succeeds, move them all.

    A group of files that belong together (a GeoTIFF and its sidecar) is replaced only when every
    one of them was written: if the block raises, every temporary file is removed and every target
    is left as it was. Targets that are folders are refused before the block runs and again before
    the first rename, and SIGINT/SIGTERM are held off during the renames (delivered right after), so
    an interrupted run does not leave a new file beside an old companion.

    Raises:
        OSError: If a folder is not writable, a target is a folder or a write fails; the message
            names the target.
    """
    targets = [Path(path) for path in paths]
    _check_not_folders(targets)
    tmps: list[Path] = []
    try:
        for target in targets:
            tmps.append(_temporary(target, TMP_SUFFIX))
        yield tuple(tmps)
        _check_not_folders(targets)
        mode = 0o666 & ~_umask()  # mkstemp makes files private; give them normal permissions
        for tmp in tmps:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
        with _signals_held():
            for tmp, target in zip(tmps, targets, strict=True):
                os.replace(tmp, target)
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def scratch_path(path: str | os.PathLike[str], suffix: str) -> Iterator[Path]:
    """Yield a scratch file beside ``path`` (``.<name>.<random><suffix>``), removed afterwards."""
    tmp = _temporary(Path(path), suffix)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(
    path: str | os.PathLike[str], suffixes: tuple[str, ...] = (TMP_SUFFIX,)
) -> list[Path]:
    """Remove the temporary files of ``path`` that a killed process left behind; return them.

    Only names this module makes are matched (``.<name>.<8 characters of mkstemp><suffix>``), so no
    other file of the folder is touched. Call it before writing ``path`` anew; a temporary file of a
    process still writing the same ``path`` would be removed too (two runs must not share an output).
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(
        re.escape(f".{target.name}.") + r"[a-z0-9_]{8}(" + "|".join(map(re.escape, suffixes)) + ")"
    )
    stale = [p for p in target.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _temporary(target: Path, suffix: str) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except OSError as error:
        msg = f"cannot write {target}: {error.strerror or error}"
        raise OSError(error.errno, msg) from error
    os.close(fd)
    return Path(tmp_name)


def _check_not_folders(targets: list[Path]) -> None:
    for target in targets:
        if target.is_dir():
            msg = f"cannot write {target}: it is a folder; remove it or choose another path"
            raise IsADirectoryError(errno.EISDIR, msg)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Block SIGINT/SIGTERM in this thread (POSIX); pending ones are delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
