"""Scene lists: which Sentinel-1 / optical pairs to ground, under which names.

A list is a CSV with columns ``s1``, ``optical`` and optional ``name`` (default: the optical file's
stem; relative paths are relative to the CSV's folder), or a folder whose files are paired by the
named group ``tile`` of two file-name patterns (:func:`~axion_terratorch.datasets.folder.find_tiles`,
as the GeoTIFF data modules pair tiles). Read by ``axion-stage3 predict --scenes`` / ``--scenes-dir``
and by :class:`~axion_terratorch.datamodules.SceneListDataModule`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from axion_terratorch.constants import PathLike
from axion_terratorch.datasets.folder import MULTIBAND, find_tiles


@dataclass(frozen=True)
class SceneEntry:
    """One scene of a list.

    Attributes:
        name: Output name (``<name>.tif``).
        s1: Sentinel-1 GeoTIFF.
        optical: Optical GeoTIFF.
        problem: Why the list could not pair this scene (e.g. no Sentinel-1 partner), else ``None``.
    """

    name: str
    s1: Path | None
    optical: Path | None
    problem: str | None = None


def read_scene_csv(path: PathLike) -> list[SceneEntry]:
    """The scenes of a CSV with columns ``s1``, ``optical`` and optional ``name``.

    Raises:
        FileNotFoundError: If the CSV does not exist.
        ValueError: If a column is missing, a cell is empty, or two rows share a name; the message
            names the CSV and the row.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"scene list not found: {path} (--scenes)"
        raise FileNotFoundError(msg)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("s1", "optical") if c not in columns]
        if missing:
            msg = f"{path}: no column(s) {missing}; the columns are {columns} (need s1, optical and optionally name)"
            raise ValueError(msg)
        entries = []
        for row_number, raw in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            for column in ("s1", "optical"):
                if not row[column]:
                    msg = f"{path} row {row_number}: empty {column}"
                    raise ValueError(msg)
            s1, optical = (path.parent / row[c] for c in ("s1", "optical"))
            name = row.get("name") or Path(row["optical"]).stem
            entries.append(SceneEntry(_checked_name(name, f"{path} row {row_number}"), s1, optical))
    check_unique_names(entries, str(path))
    return entries


def find_scene_pairs(folder: PathLike, s1_pattern: str, optical_pattern: str) -> list[SceneEntry]:
    """The scenes of ``folder`` (searched recursively), paired by the group ``tile`` of both patterns.

    A pattern must match a whole file name, e.g. ``(?P<tile>.+)_S1\\.tif``; the ``tile`` group is the
    scene's name. A name found for one sensor only is listed with its :attr:`SceneEntry.problem`.

    Raises:
        FileNotFoundError: If ``folder`` is not a folder.
        ValueError: If a pattern is invalid, has no ``tile`` group, has a ``band`` group (scenes are
            multi-band files), or nothing matches.
    """
    for key, pattern in (("--s1-pattern", s1_pattern), ("--optical-pattern", optical_pattern)):
        if "(?P<band>" in pattern:
            msg = f"{key}={pattern!r}: scenes are multi-band files; drop the band group"
            raise ValueError(msg)
    found, problems = find_tiles(folder, s1_pattern, optical_pattern)
    entries = [
        SceneEntry(_checked_name(t.name, str(folder)), t.s1[MULTIBAND], t.s2[MULTIBAND])
        for t in found
        if t.name not in problems
    ]
    entries += [SceneEntry(name, None, None, problem) for name, problem in problems.items()]
    if not entries:
        msg = (
            f"no file under {folder} matches --s1-pattern {s1_pattern!r} or "
            f"--optical-pattern {optical_pattern!r}"
        )
        raise ValueError(msg)
    return sorted(entries, key=lambda e: e.name)


def check_unique_names(entries: Sequence[SceneEntry], source: str) -> None:
    """Refuse two scenes of one name (they would write the same output).

    Raises:
        ValueError: Naming the name and both optical files.
    """
    seen: dict[str, SceneEntry] = {}
    for entry in entries:
        if entry.name in seen:
            msg = (
                f"{source}: two scenes are named {entry.name!r} ({seen[entry.name].optical} and "
                f"{entry.optical}); give them distinct names (column name)"
            )
            raise ValueError(msg)
        seen[entry.name] = entry


def _checked_name(name: str, where: str) -> str:
    if not name or name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name):
        msg = f"{where}: scene name {name!r} is not a file name"
        raise ValueError(msg)
    return name
