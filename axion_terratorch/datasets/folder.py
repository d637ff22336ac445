"""Paired Sentinel-1 / Sentinel-2 GeoTIFFs in a folder, matched by file-name patterns."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from axion_terratorch.constants import S1GRD_BANDS
from axion_terratorch.datasets.bands import band_positions, normalize_band
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import Grid, RasterHeader, read_bands, read_header
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair

#: Key of a multi-band file in :attr:`TileFiles.s1` / :attr:`TileFiles.s2`.
MULTIBAND = "*"

# (file, 1-based band index) of each band to read, in output order.
Reads = tuple[tuple[Path, int], ...]


@dataclass(frozen=True)
class TileFiles:
    """The files of one tile: band name -> file, or ``{MULTIBAND: file}`` for one multi-band file."""

    name: str
    s1: dict[str, Path] = field(default_factory=dict)
    s2: dict[str, Path] = field(default_factory=dict)


def find_tiles(
    root: str | os.PathLike[str], s1_pattern: str, s2_pattern: str
) -> tuple[list[TileFiles], dict[str, str]]:
    """Match the files under ``root`` (recursively) into tiles.

    A pattern is a regular expression that must match a whole file name. Its group ``tile`` names
    the tile; an optional group ``band`` makes it one file per band (``VV``/``VH``, ``B02``/``B2``
    ...), else each tile has one multi-band file.

    Returns:
        The tiles with both S1 and S2 files, sorted by name, and ``{tile: problem}`` for tiles
        with files of one sensor only or two files for the same band.

    Raises:
        ValueError: If a pattern is invalid or has no ``tile`` group.
        FileNotFoundError: If ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        msg = f"root={root} is not a folder"
        raise FileNotFoundError(msg)
    compiled = {}
    for key, pattern in (("s1_pattern", s1_pattern), ("s2_pattern", s2_pattern)):
        try:
            compiled[key] = re.compile(pattern)
        except re.error as error:
            msg = f"{key}={pattern!r} is not a valid regular expression: {error}"
            raise ValueError(msg) from error
        if "tile" not in compiled[key].groupindex:
            msg = f"{key}={pattern!r} needs a named group (?P<tile>...) for the tile name"
            raise ValueError(msg)
    found: dict[str, dict[str, dict[str, Path]]] = {}
    problems: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        for sensor, key in (("s1", "s1_pattern"), ("s2", "s2_pattern")):
            match = compiled[key].fullmatch(path.name)
            if match is None:
                continue
            tile = match.group("tile")
            raw_band = match.groupdict().get("band")
            band = MULTIBAND if raw_band is None else normalize_band(raw_band) or raw_band
            files = found.setdefault(tile, {"s1": {}, "s2": {}})[sensor]
            if band in files:
                problems[tile] = f"{files[band]} and {path} both match {key} for tile {tile!r}, band {band}"
            files[band] = path
    tiles = []
    for name, files in sorted(found.items()):
        for sensor, other in (("s1", "s2"), ("s2", "s1")):
            if not files[sensor] and name not in problems:
                existing = next(iter(files[other].values()))
                problems[name] = (
                    f"tile {name!r}: {existing} has no {sensor.upper()} partner matching {sensor}_pattern"
                )
        if files["s1"] and files["s2"]:
            tiles.append(TileFiles(name, files["s1"], files["s2"]))
    return tiles, problems


def _band_names(
    header: RasterHeader, configured: Sequence[str] | None, key: str, default: Sequence[str] | None
) -> tuple[str, ...]:
    """Band names of a multi-band file: from the config, else its band descriptions, else ``default``."""
    described = [normalize_band(d) if d else None for d in header.descriptions]
    from_file = tuple(d for d in described if d is not None) if all(described) else None
    if configured is not None:
        configured = tuple(normalize_band(b) or b for b in configured)
        if from_file is not None and from_file != configured:
            msg = f"{header.path}: band descriptions {list(from_file)} contradict {key}={list(configured)}"
            raise BadTileError(msg)
        names = configured
    elif from_file is not None:
        names = from_file
    elif default is not None:
        names = tuple(default)
    else:
        msg = f"{header.path}: band identities unknown: set {key} or write GeoTIFF band descriptions"
        raise BadTileError(msg)
    if len(names) != header.count:
        msg = f"{header.path}: {header.count} bands, but {len(names)} band names {list(names)}"
        raise BadTileError(msg)
    return names


def _reads(
    files: Mapping[str, Path],
    wanted: Sequence[str],
    configured: Sequence[str] | None,
    key: str,
    default: Sequence[str] | None = None,
) -> tuple[Reads, list[RasterHeader]]:
    """Which (file, band index) to read for each wanted band, and the headers of the files involved."""
    if MULTIBAND in files:
        header = read_header(files[MULTIBAND])
        names = _band_names(header, configured, key, default)
        positions = band_positions(names, wanted, str(header.path))
        return tuple((header.path, p + 1) for p in positions), [header]
    source = str(next(iter(files.values())).parent)
    band_positions(list(files), wanted, f"{source} (one file per band)")
    headers = {band: read_header(path) for band, path in files.items()}
    for band, header in headers.items():
        if header.count != 1:
            msg = f"{header.path}: {header.count} bands in a one-file-per-band layout (band {band})"
            raise BadTileError(msg)
    return tuple((files[band], 1) for band in wanted), list(headers.values())


def _read(reads: Reads, grid: Grid) -> np.ndarray:
    """Read (file, band) pairs onto ``grid``, one open per file: float32 (len(reads), H, W)."""
    by_file: dict[Path, list[int]] = {}
    for path, index in reads:
        by_file.setdefault(path, []).append(index)
    layers = {path: dict(zip(ix, read_bands(path, ix, grid), strict=True)) for path, ix in by_file.items()}
    return np.stack([layers[path][index] for path, index in reads])


@dataclass(frozen=True)
class _Plan:
    """Resolved reads of one tile: S1 (VV, VH) and S2 bands, onto the S2 grid."""

    s1: Reads
    s2: Reads
    grid: Grid


class GeoTiffPairDataset(PairedTileDataset):
    """Sentinel-1 / Sentinel-2 GeoTIFF pairs (see :func:`find_tiles` for the layouts).

    Dataset features:

    * S1: one 2-band file or one file per polarisation, backscatter in dB or linear power.
    * S2: one multi-band file or one file per band at its native resolution (10, 20, 60 m);
      bands are resampled (bilinear) onto the finest S2 grid of the tile, the 10 m grid.
    * Band identities: ``band`` groups of the patterns, ``s1_bands``/``s2_bands``, or GeoTIFF band
      descriptions (contradictions are errors).
    * S1 must lie on the S2 grid (CRS, transform, shape); with ``reproject_s1`` it is resampled
      onto it (bilinear, in the stored units), else the tile is bad: misaligned pixels are never
      paired silently. Rasters without CRS pair only with rasters without CRS of the same shape.

    Headers are read at construction, so missing or unreadable files, band-count, band-name and
    grid problems surface before training (see :meth:`PairedTileDataset.screen`).

    Args:
        tiles: Tiles from :func:`find_tiles`.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        s1_bands: Band names of multi-band S1 files (default: descriptions, else ``(VV, VH)``).
        s2_bands: Band names of multi-band S2 files (default: descriptions).
        reproject_s1: Resample S1 onto the S2 grid when the grids differ.
        random_crop: Random windows (training) instead of centred ones.
    """

    def __init__(
        self,
        tiles: Sequence[TileFiles],
        options: TileOptions,
        s1_bands: Sequence[str] | None = None,
        s2_bands: Sequence[str] | None = None,
        reproject_s1: bool = False,
        random_crop: bool = False,
    ) -> None:
        super().__init__(options, random_crop)
        self.s1_bands = s1_bands
        self.s2_bands = s2_bands
        self.reproject_s1 = reproject_s1
        self.files = {tile.name: tile for tile in tiles}
        self.names = sorted(self.files)
        problems = {}
        self._plans: dict[str, _Plan] = {}
        for name in self.names:
            try:
                self._plans[name] = self._plan(self.files[name])
            except BadTileError as error:
                problems[name] = str(error)
        self.screen(problems)

    def _plan(self, tile: TileFiles) -> _Plan:
        s2, s2_headers = _reads(tile.s2, self.options.bands, self.s2_bands, "s2_bands")
        reference = min(s2_headers, key=lambda h: abs(h.grid.transform.a * h.grid.transform.e))
        grids = {h.grid for h in s2_headers}
        if any(g.crs is None for g in grids) and len(grids) > 1:
            msg = f"{reference.path}: S2 files of tile {tile.name!r} without CRS must share one grid"
            raise BadTileError(msg)
        s1, s1_headers = _reads(tile.s1, S1GRD_BANDS, self.s1_bands, "s1_bands", default=S1GRD_BANDS)
        for header in s1_headers:
            if header.grid.same_as(reference.grid):
                continue
            if (header.grid.crs is None) != (reference.grid.crs is None):
                msg = f"{header.path} and {reference.path}: only one is georeferenced, alignment unknown"
                raise BadTileError(msg)
            if not self.reproject_s1 or header.grid.crs is None:
                msg = (
                    f"{header.path} and {reference.path} are on different grids "
                    f"(S1: {header.grid.describe()}; S2: {reference.grid.describe()}); "
                    "set reproject_s1: true to resample Sentinel-1 onto the Sentinel-2 grid"
                )
                raise BadTileError(msg)
        return _Plan(s1, s2, reference.grid)

    def read_pair(self, index: int) -> RawPair:
        """Read tile ``index``: S1 (VV, VH) and the S2 bands, on the tile's 10 m S2 grid."""
        name = self.names[index]
        plan, tile = self._plans[name], self.files[name]
        s1_source = ", ".join(str(p) for p in sorted(set(tile.s1.values())))
        s2_source = ", ".join(str(p) for p in sorted(set(tile.s2.values())))
        if len(s2_source) > 200:
            s2_source = f"{next(iter(tile.s2.values())).parent} ({len(tile.s2)} band files)"
        return RawPair(name, _read(plan.s1, plan.grid), _read(plan.s2, plan.grid), s1_source, s2_source)
