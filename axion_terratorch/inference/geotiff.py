"""GeoTIFF inputs of scene grounding: checks before anything is written, and windowed reads.

A scene is a Sentinel-1 GRD raster (VV, VH in dB) and an optical raster (the Stage 2 estimate) on
the same grid. Bands are found by their descriptions (``VV``/``VH``, ``B02``/``B2``, ...), by
``optical_bands`` given by the caller, or by position when the count matches exactly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window as RioWindow

from axion_terratorch.constants import REFLECTANCE_SCALE, S1GRD_BANDS, S2L2A_BANDS
from axion_terratorch.inference.tiling import Window

logger = logging.getLogger(__name__)

OpticalUnits = Literal["auto", "reflectance", "dn"]
PathLike = str | os.PathLike[str]


class SceneInputError(ValueError):
    """An input raster is unreadable, lacks bands, is all nodata, or is off the other raster's grid."""


def normalise_band_name(name: str) -> str:
    """``"b2"`` / ``"B02"`` -> ``"B02"``, ``"b8a"`` -> ``"B8A"``; other names are upper-cased."""
    match = re.fullmatch(r"B0?(\d{1,2})(A?)", name.strip().upper())
    if match is None:
        return name.strip().upper()
    return f"B{match.group(1)}A" if match.group(2) else f"B{int(match.group(1)):02d}"


@dataclass(frozen=True)
class RasterBands:
    """Bands of one raster, in model order.

    Attributes:
        path: The file.
        indexes: 1-based band indexes, in the order the model wants them.
        names: Model band names of those indexes.
        descriptions: The file's descriptions of those bands (``None`` where unset).
        nodata: The file's nodata value (NaN is always treated as nodata too).
        scale: Divide the values by this (``REFLECTANCE_SCALE`` for optical DN, else 1).
    """

    path: Path
    indexes: tuple[int, ...]
    names: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    nodata: float | None
    scale: float = 1.0

    def valid(self, values: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool: pixels where every band is finite and not nodata."""
        ok = np.isfinite(values)
        if self.nodata is not None and not np.isnan(self.nodata):
            ok &= values != self.nodata
        return ok.all(axis=0)


class SceneInputs:
    """A Sentinel-1 / optical GeoTIFF pair, checked on construction; :meth:`open` reads windows.

    Args:
        s1: Sentinel-1 GRD raster, VV and VH in dB.
        optical: Optical (Stage 2) raster holding at least ``bands``.
        bands: Bands the model needs, in model order.
        optical_bands: Names of the optical raster's bands in file order (overrides its descriptions).
        optical_units: ``dn`` (reflectance x 10000), ``reflectance``, or ``auto`` (integer dtype = DN).

    Raises:
        SceneInputError: On an unreadable file, missing bands, rasters on different grids or an
            all-nodata raster; the message names the file.
    """

    def __init__(
        self,
        s1: PathLike,
        optical: PathLike,
        bands: Sequence[str],
        optical_bands: Sequence[str] | None = None,
        optical_units: OpticalUnits = "auto",
    ) -> None:
        self.s1_path, self.optical_path = Path(s1), Path(optical)
        with _open(self.s1_path) as sar_src, _open(self.optical_path) as opt_src:
            _check_real(sar_src, self.s1_path)
            _check_real(opt_src, self.optical_path)
            self.sar = _sar_bands(sar_src, self.s1_path)
            self.optical = _optical_bands(opt_src, self.optical_path, bands, optical_bands, optical_units)
            _check_grid(sar_src, self.s1_path, opt_src, self.optical_path)
            self.profile = opt_src.profile.copy()
            self.height, self.width = opt_src.height, opt_src.width
            for src, raster in ((opt_src, self.optical), (sar_src, self.sar)):
                _check_has_data(src, raster)

    @property
    def bands(self) -> tuple[str, ...]:
        """Optical bands, model order."""
        return self.optical.names

    @contextlib.contextmanager
    def open(self) -> Iterator[SceneReader]:
        """Open both rasters for windowed reads."""
        with rasterio.open(self.s1_path) as sar, rasterio.open(self.optical_path) as optical:
            yield SceneReader(self, sar, optical)


class SceneReader:
    """Windowed reads of an open :class:`SceneInputs` (from :meth:`SceneInputs.open`)."""

    def __init__(
        self, scene: SceneInputs, sar: rasterio.DatasetReader, optical: rasterio.DatasetReader
    ) -> None:
        self._pairs = ((sar, scene.sar), (optical, scene.optical))

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Read one window.

        Returns:
            ``(sar, optical, sar_valid, optical_valid)``: float32 ``(2, h, w)`` dB, float32
            ``(C, h, w)`` reflectance, and bool ``(h, w)`` valid-pixel masks. Invalid values are left
            as read.
        """
        (sar, sar_valid), (optical, optical_valid) = (
            read_window(src, raster, window) for src, raster in self._pairs
        )
        return sar, optical, sar_valid, optical_valid


def companion_raster(
    scene: SceneInputs,
    path: PathLike,
    optical_bands: Sequence[str] | None = None,
    optical_units: OpticalUnits = "auto",
) -> RasterBands:
    """Another optical raster on ``scene``'s grid (e.g. a grounded output), checked like its optical input.

    Raises:
        SceneInputError: On an unreadable file, missing bands, another grid or no valid pixel; the
            message names the file.
    """
    path = Path(path)
    with _open(path) as src, _open(scene.optical_path) as reference:
        _check_real(src, path)
        raster = _optical_bands(src, path, scene.bands, optical_bands, optical_units)
        _check_grid(reference, scene.optical_path, src, path)
        _check_has_data(src, raster)
    return raster


def read_window(
    src: rasterio.DatasetReader, raster: RasterBands, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """``(values, valid)`` of ``raster``'s bands in ``window``: float32 ``(C, h, w)`` scaled by
    ``raster.scale`` and the bool ``(h, w)`` valid-pixel mask."""
    values = src.read(
        list(raster.indexes),
        window=RioWindow(window.col, window.row, window.width, window.height),
        out_dtype="float32",
    )
    valid = raster.valid(values)
    return (values / raster.scale if raster.scale != 1 else values), valid


def _open(path: Path) -> rasterio.DatasetReader:
    if not path.is_file():
        msg = f"input raster not found: {path}"
        raise SceneInputError(msg)
    try:
        return rasterio.open(path)
    except RasterioIOError as err:
        msg = f"cannot read {path} as a raster: {err}"
        raise SceneInputError(msg) from err


def _check_real(src: rasterio.DatasetReader, path: Path) -> None:
    """Refuse complex (or other non-real) bands: reading them as float32 drops the imaginary part."""
    odd = sorted({d for d in src.dtypes if np.dtype(d).kind not in "biuf"})
    if odd:
        msg = f"{path}: band data type(s) {odd} are not real numbers; give integer or float bands"
        raise SceneInputError(msg)


def _descriptions(src: rasterio.DatasetReader) -> list[str | None]:
    return [d or None for d in src.descriptions]


def _sar_bands(src: rasterio.DatasetReader, path: Path) -> RasterBands:
    names = [normalise_band_name(d) if d else None for d in _descriptions(src)]
    if all(b in names for b in S1GRD_BANDS):
        indexes = tuple(names.index(b) + 1 for b in S1GRD_BANDS)
    elif src.count == len(S1GRD_BANDS):
        indexes = (1, 2)
    else:
        msg = (
            f"{path}: cannot find the Sentinel-1 bands {list(S1GRD_BANDS)}: it has {src.count} band(s) "
            f"described as {_descriptions(src)}; give a 2-band VV, VH raster or describe the bands"
        )
        raise SceneInputError(msg)
    return RasterBands(
        path, indexes, S1GRD_BANDS, tuple(src.descriptions[i - 1] for i in indexes), src.nodata, 1.0
    )


def _optical_bands(
    src: rasterio.DatasetReader,
    path: Path,
    bands: Sequence[str],
    optical_bands: Sequence[str] | None,
    units: OpticalUnits,
) -> RasterBands:
    if optical_bands is not None:
        if len(optical_bands) != src.count:
            msg = f"{path} has {src.count} band(s) but {len(optical_bands)} band names were given: {list(optical_bands)}"
            raise SceneInputError(msg)
        names: list[str | None] = [normalise_band_name(b) for b in optical_bands]
    else:
        names = [normalise_band_name(d) if d else None for d in _descriptions(src)]
        if not all(n in S2L2A_BANDS for n in names) and src.count == len(bands):
            logger.info("%s: bands not described as Sentinel-2 bands; taking them as %s", path, list(bands))
            names = list(bands)
    missing = [b for b in bands if b not in names]
    if missing:
        msg = (
            f"{path} lacks band(s) {missing} needed by the model (bands {list(bands)}); its bands are "
            f"{names}. Name them with --bands (file order) or write band descriptions."
        )
        raise SceneInputError(msg)
    indexes = tuple(names.index(b) + 1 for b in bands)
    match units:
        case "auto":
            scale = REFLECTANCE_SCALE if np.issubdtype(np.dtype(src.dtypes[0]), np.integer) else 1.0
        case "dn":
            scale = REFLECTANCE_SCALE
        case "reflectance":
            scale = 1.0
        case _:
            msg = f"optical_units must be 'auto', 'reflectance' or 'dn', got {units!r}"
            raise ValueError(msg)
    descriptions = tuple(src.descriptions[i - 1] for i in indexes)
    return RasterBands(path, indexes, tuple(bands), descriptions, src.nodata, scale)


def _check_grid(a: rasterio.DatasetReader, a_path: Path, b: rasterio.DatasetReader, b_path: Path) -> None:
    checks = (
        (
            "size (width, height)",
            (a.width, a.height),
            (b.width, b.height),
            (a.width, a.height) == (b.width, b.height),
        ),
        ("CRS", a.crs, b.crs, a.crs == b.crs),
        ("transform", a.transform, b.transform, a.transform.almost_equals(b.transform)),
    )
    for name, value_a, value_b, same in checks:
        if not same:
            msg = (
                f"{a_path} and {b_path} are not on the same grid: {name} {value_a} vs {value_b}. "
                "Resample one onto the other first (e.g. gdalwarp -te ... -tr ... -t_srs ...)."
            )
            raise SceneInputError(msg)


def _check_has_data(src: rasterio.DatasetReader, raster: RasterBands) -> None:
    """Scan blocks until a valid pixel is found (fast on real scenes, memory flat on any)."""
    for block in _blocks(src.height, src.width, 512):
        values = src.read(list(raster.indexes), window=block, out_dtype="float32")
        if raster.valid(values).any():
            return
    msg = f"{raster.path} holds no valid pixel in bands {list(raster.names)} (all nodata={raster.nodata} or NaN)"
    raise SceneInputError(msg)


def _blocks(height: int, width: int, size: int) -> Iterator[RioWindow]:
    for row in range(0, height, size):
        for col in range(0, width, size):
            yield RioWindow(col, row, min(size, width - col), min(size, height - row))
