"""GeoTIFF inputs of scene grounding: checks before anything is written, and windowed reads.

A scene is a Sentinel-1 GRD raster (VV, VH) and an optical raster (the Stage 2 estimate) on the same
grid. It is read through the raster-input layer the training readers use (``docs/data.md``): band
names by :func:`~axion_terratorch.datasets.bands.normalize_band`, units and their plausibility by
:mod:`axion_terratorch.datasets.units`, grids, data types and truncation by
:mod:`axion_terratorch.datasets.raster`. What differs is only the reading: windows of a scene of any
size instead of whole tiles, so the units are judged once per scene, on windows spread over it:

* Sentinel-1 in linear power (non-negative, median below 1) is converted to dB (logged); any other
  median outside the dB range is refused.
* Optical ``auto`` units are DN (divided by 10000) when the 99th percentile is above 2 (any dtype),
  else reflectance; ``dn``/``reflectance`` are checked the same way and refused when implausible.
* Optical nodata is the file's, else 0 (as Sentinel-2 products and ``TileOptions.s2_nodata``); an
  optical file without a valid pixel is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Interleaving
from rasterio.errors import RasterioError
from rasterio.windows import Window as RioWindow

from axion_terratorch.constants import REFLECTANCE_SCALE, S1GRD_BANDS, OpticalUnits, PathLike
from axion_terratorch.datasets.bands import normalize_band
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import Grid, check_blocks, check_real_dtype
from axion_terratorch.datasets.units import (
    S1Units,
    check_negative_reflectance,
    check_reflectance,
    check_sar_db,
    check_sentinel_nodata,
    is_linear_power,
    looks_like_amplitude,
    looks_like_dn,
    power_to_db,
)
from axion_terratorch.inference.tiling import Window

logger = logging.getLogger(__name__)

#: Optical nodata when a file declares none (0 in Sentinel-2 L1C/L2A products, the training default).
OPTICAL_NODATA = TileOptions.s2_nodata
#: Units are judged on up to this many windows of ``SAMPLE_SIDE`` px spread evenly over a scene.
SAMPLE_WINDOWS = 16
SAMPLE_SIDE = 256


class SceneInputError(BadTileError):
    """An input raster is unreadable, lacks bands, is all nodata, in implausible units or off the other's grid."""


@dataclass(frozen=True)
class RasterBands:
    """Bands of one raster, in model order, and how their values become model units.

    Attributes:
        path: The file.
        indexes: 1-based band indexes, in the order the model wants them.
        names: Model band names of those indexes.
        descriptions: The file's descriptions of those bands (``None`` where unset).
        nodata: The file's nodata value (written to outputs).
        fill: The value read as nodata: ``nodata``, or the assumed one when the file declares none
            (NaN is always nodata too).
        scale: Divide the values by this (``REFLECTANCE_SCALE`` for optical DN, else 1).
        linear_power: Convert the values from linear power to dB (Sentinel-1).
        amplitude: The linear values are amplitude: squared before the conversion to dB.
    """

    path: Path
    indexes: tuple[int, ...]
    names: tuple[str, ...]
    descriptions: tuple[str | None, ...]
    nodata: float | None
    fill: float | None = None
    scale: float = 1.0
    linear_power: bool = False
    amplitude: bool = False

    def valid(self, values: np.ndarray) -> np.ndarray:
        """``(h, w)`` bool: pixels where every band of the raw ``values`` is finite and not nodata."""
        ok = np.isfinite(values)
        if self.fill is not None and not np.isnan(self.fill):
            ok &= values != self.fill
        return ok.all(axis=0)

    def convert(self, values: np.ndarray) -> np.ndarray:
        """Raw float32 ``(C, h, w)`` values in model units (dB or reflectance); NaN where undefined."""
        if self.linear_power:
            values = power_to_db(values * values if self.amplitude else values)
        return values / self.scale if self.scale != 1 else values


class SceneInputs:
    """A Sentinel-1 / optical GeoTIFF pair, checked on construction; :meth:`open` reads windows.

    Args:
        s1: Sentinel-1 GRD raster, VV and VH in dB or linear power.
        optical: Optical (Stage 2) raster holding at least ``bands``.
        bands: Bands the model needs, in model order.
        optical_bands: Names of the optical raster's bands in file order (overrides its descriptions).
        optical_units: ``dn`` (reflectance x 10000), ``reflectance``, or ``auto`` (judged from the values).
        s1_units: ``auto`` (dB, or linear power when it looks like it), ``db``, ``power`` or ``amplitude``.
        optical_nodata: The optical nodata value, for a file that declares none (else 0, and a file
            holding an undeclared -9999, -32768 or 65535 is refused).

    Raises:
        SceneInputError: On an unreadable or truncated file, missing bands, rasters on different
            grids, implausible units or an all-nodata raster; the message names the file (and band).
    """

    def __init__(
        self,
        s1: PathLike,
        optical: PathLike,
        bands: Sequence[str],
        optical_bands: Sequence[str] | None = None,
        optical_units: OpticalUnits = "auto",
        s1_units: S1Units = "auto",
        optical_nodata: float | None = None,
    ) -> None:
        self.s1_path, self.optical_path = Path(s1), Path(optical)
        with _scene_errors(), _open(self.s1_path) as sar_src, _open(self.optical_path) as opt_src:
            sar = _sar_bands(sar_src, self.s1_path)
            optical_raster = _optical_bands(opt_src, self.optical_path, bands, optical_bands, optical_nodata)
            _check_grid(sar_src, self.s1_path, opt_src, self.optical_path)
            for src, raster in ((sar_src, sar), (opt_src, optical_raster)):
                check_blocks(src, raster.path, raster.indexes)
            self.profile = opt_src.profile.copy()
            self.height, self.width = opt_src.height, opt_src.width
            self.optical = _optical_units(
                opt_src,
                optical_raster,
                optical_units,
                "optical_units (--optical-units)",
                None if optical_nodata is not None else "--optical-nodata",
            )
            self.sar = _sar_units(sar_src, sar, s1_units)

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
            as read (converted).
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
    units_option: str = "grounded_units (--grounded-units)",
) -> RasterBands:
    """Another optical raster on ``scene``'s grid (e.g. a grounded output), checked like its optical input.

    Raises:
        SceneInputError: On an unreadable file, missing bands, another grid, implausible units or no
            valid pixel; the message names the file.
    """
    path = Path(path)
    with _scene_errors(), _open(path) as src, _open(scene.optical_path) as reference:
        raster = _optical_bands(src, path, scene.bands, optical_bands)
        _check_grid(reference, scene.optical_path, src, path)
        check_blocks(src, path, raster.indexes)
        return _optical_units(src, raster, optical_units, units_option)


def read_window(
    src: rasterio.DatasetReader, raster: RasterBands, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """``(values, valid)`` of ``raster``'s bands in ``window``: float32 ``(C, h, w)`` in model units
    (:meth:`RasterBands.convert`) and the bool ``(h, w)`` valid-pixel mask."""
    raw = src.read(
        list(raster.indexes),
        window=RioWindow(window.col, window.row, window.width, window.height),
        out_dtype="float32",
    )
    values = raster.convert(raw)
    valid = raster.valid(raw)
    if raster.linear_power:
        valid &= np.isfinite(values).all(axis=0)
    return values, valid


@contextlib.contextmanager
def _scene_errors() -> Iterator[None]:
    """Report the raster layer's :class:`BadTileError` (and GDAL read errors) as :class:`SceneInputError`."""
    try:
        yield
    except SceneInputError:
        raise
    except BadTileError as error:
        raise SceneInputError(str(error)) from error


def _open(path: Path) -> rasterio.DatasetReader:
    if not path.is_file():
        msg = f"input raster not found: {path}"
        raise SceneInputError(msg)
    try:
        return rasterio.open(path)
    except RasterioError as err:
        msg = f"cannot read {path} as a raster: {err}"
        raise SceneInputError(msg) from err


def _descriptions(src: rasterio.DatasetReader) -> list[str | None]:
    return [d or None for d in src.descriptions]


def _bands(
    src: rasterio.DatasetReader, path: Path, indexes: tuple[int, ...], names: Sequence[str]
) -> RasterBands:
    for index in indexes:
        check_real_dtype(src.dtypes[index - 1], f"{path} band {index}")
    descriptions = tuple(src.descriptions[i - 1] for i in indexes)
    return RasterBands(path, indexes, tuple(names), descriptions, src.nodata, src.nodata)


def _sar_bands(src: rasterio.DatasetReader, path: Path) -> RasterBands:
    names = [normalize_band(d) if d else None for d in _descriptions(src)]
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
    return _bands(src, path, indexes, S1GRD_BANDS)


def _optical_bands(
    src: rasterio.DatasetReader,
    path: Path,
    bands: Sequence[str],
    optical_bands: Sequence[str] | None,
    nodata: float | None = None,
) -> RasterBands:
    if optical_bands is not None:
        if len(optical_bands) != src.count:
            msg = f"{path} has {src.count} band(s) but {len(optical_bands)} band names were given: {list(optical_bands)}"
            raise SceneInputError(msg)
        names: list[str | None] = [normalize_band(b) or b.strip() for b in optical_bands]
    else:
        names = [normalize_band(d) if d else None for d in _descriptions(src)]
        if not all(names) and src.count == len(bands):
            logger.info("%s: bands not described as Sentinel-2 bands; taking them as %s", path, list(bands))
            names = list(bands)
    missing = [b for b in bands if b not in names]
    if missing:
        msg = (
            f"{path} lacks band(s) {missing} needed by the model (bands {list(bands)}); its bands are "
            f"{names}. Name them with --bands (file order) or write band descriptions."
        )
        raise SceneInputError(msg)
    raster = _bands(src, path, tuple(names.index(b) + 1 for b in bands), bands)
    fill = nodata if nodata is not None else raster.nodata if raster.nodata is not None else OPTICAL_NODATA
    return dataclasses.replace(raster, fill=fill)


def _check_grid(a: rasterio.DatasetReader, a_path: Path, b: rasterio.DatasetReader, b_path: Path) -> None:
    grids = [Grid(src.crs, src.transform, src.height, src.width) for src in (a, b)]
    difference = grids[0].difference(grids[1])
    if difference is not None:
        msg = (
            f"{a_path} and {b_path} are not on the same grid: {difference}. "
            "Resample one onto the other first (e.g. gdalwarp -te ... -tr ... -t_srs ...)."
        )
        raise SceneInputError(msg)


def _sar_units(src: rasterio.DatasetReader, raster: RasterBands, units: S1Units = "auto") -> RasterBands:
    """``raster`` converting linear power (or amplitude) to dB as ``units`` says, or when the sample
    looks like power for ``auto``; refuse implausible values and, for ``auto``, linear amplitude."""
    sample = _sample(src, raster)
    if units not in ("auto", "db", "power", "amplitude"):
        msg = f"s1_units (--s1-units) must be 'auto', 'db', 'power' or 'amplitude', got {units!r}"
        raise ValueError(msg)
    linear = is_linear_power(sample) if units == "auto" else units != "db"
    amplitude = units == "amplitude"
    if units == "auto" and linear and looks_like_amplitude(sample):
        msg = (
            f"{raster.path}: Sentinel-1 looks like linear amplitude, not power (taken as power its VV and "
            "VH medians are too high and too close for sigma0, and would be half the right dB); pass "
            "--s1-units amplitude (or --s1-units power if it is power)"
        )
        raise SceneInputError(msg)
    if linear:
        logger.info(
            "%s: Sentinel-1 taken as linear %s; converting to dB",
            raster.path,
            "amplitude" if amplitude else "power",
        )
        sample = power_to_db(sample * sample if amplitude else sample)
    where = f"{raster.path} bands {', '.join(raster.names)}"
    check_sar_db(
        sample, where, "give Sentinel-1 GRD backscatter in dB or linear power (sigma0), or set --s1-units"
    )
    return dataclasses.replace(raster, linear_power=linear, amplitude=amplitude)


def _optical_units(
    src: rasterio.DatasetReader,
    raster: RasterBands,
    units: OpticalUnits,
    option: str,
    nodata_option: str | None = None,
) -> RasterBands:
    """``raster`` with the scale of ``units`` (judged from a sample for ``auto``), checked for plausibility:
    with ``nodata_option``, an undeclared sentinel nodata is refused; negative reflectance beyond
    noise always is."""
    sample = _sample(src, raster)
    if nodata_option is not None and raster.nodata is None:
        fix = f"If {{value}} marks nodata pass {nodata_option} {{value}} (or set the file's nodata tag)."
        check_sentinel_nodata(sample, str(raster.path), fix)
    match units:
        case "auto":
            scale = REFLECTANCE_SCALE if looks_like_dn(sample) else 1.0
            logger.info("%s: optical values taken as %s", raster.path, "DN" if scale != 1 else "reflectance")
        case "dn":
            scale = REFLECTANCE_SCALE
        case "reflectance":
            scale = 1.0
        case _:
            msg = f"{option} must be 'auto', 'reflectance' or 'dn', got {units!r}"
            raise ValueError(msg)
    check_reflectance(
        sample / scale,
        scale,
        str(raster.path),
        raster.names,
        dn_fix=f"set {option} to dn or auto",
        reflectance_fix=f"set {option} to reflectance or auto",
    )
    check_negative_reflectance(
        sample / scale,
        str(raster.path),
        raster.names,
        "is the file signed or offset data, or does a value mark nodata? "
        + (f"pass {nodata_option} VALUE" if nodata_option else "set its nodata tag"),
    )
    return dataclasses.replace(raster, scale=scale)


def _sample(src: rasterio.DatasetReader, raster: RasterBands) -> np.ndarray:
    """float32 ``(C, N)`` valid raw values of windows spread over the raster (else of the first block
    with a valid pixel: found by scanning, memory flat).

    Raises:
        SceneInputError: If the raster holds no valid pixel, or its pixels cannot be read.
    """
    try:
        found = [v for v in (_valid_values(src, raster, w) for w in _spread(src.height, src.width)) if v.size]
        if not found:
            scan = (_valid_values(src, raster, w) for w in _stored_blocks(src, raster))
            first = next((v for v in scan if v.size), None)  # stops at the first block with a valid pixel
            found = [] if first is None else [first]
    except RasterioError as error:
        msg = f"{raster.path}: cannot read pixels, the file may be truncated or damaged ({error})"
        raise SceneInputError(msg) from error
    if found:
        return np.concatenate(found, axis=1)
    nodata = (
        f"{raster.fill} ({'declared' if raster.nodata is not None else 'assumed: the file declares none'})"
    )
    msg = f"{raster.path} holds no valid pixel in bands {list(raster.names)} (all nodata={nodata} or NaN)"
    raise SceneInputError(msg)


def _valid_values(src: rasterio.DatasetReader, raster: RasterBands, window: RioWindow) -> np.ndarray:
    values = src.read(list(raster.indexes), window=window, out_dtype="float32")
    return values[:, raster.valid(values)]


def _spread(height: int, width: int) -> list[RioWindow]:
    """Up to ``SAMPLE_WINDOWS`` windows of ``SAMPLE_SIDE`` px on an even grid over the raster."""
    per_side = math.isqrt(SAMPLE_WINDOWS)
    h, w = min(SAMPLE_SIDE, height), min(SAMPLE_SIDE, width)
    rows = sorted({round(i * (height - h) / max(per_side - 1, 1)) for i in range(per_side)})
    cols = sorted({round(i * (width - w) / max(per_side - 1, 1)) for i in range(per_side)})
    return [RioWindow(col, row, w, h) for row in rows for col in cols]


def _stored_blocks(src: rasterio.DatasetReader, raster: RasterBands) -> Iterator[RioWindow]:
    """The raster's own blocks, row by row, without the sparse ones when they would read as nodata.

    A sparse block is not stored in the file (GDAL gives no ``BLOCK_OFFSET``) and reads as the file's
    nodata, else 0: skipping it when that value is nodata here makes the scan of a huge sparse
    raster a walk over its block index instead of a read of every pixel.
    """
    height, width = src.block_shapes[raster.indexes[0] - 1]
    sparse_value = src.nodata if src.nodata is not None else 0.0
    skip_sparse = (
        src.driver == "GTiff"
        and raster.fill is not None
        and (sparse_value == raster.fill or np.isnan(sparse_value))
    )
    bands = [1] if src.interleaving == Interleaving.pixel else list(raster.indexes)
    for row in range(0, src.height, height):
        for col in range(0, src.width, width):
            offsets = (
                src.get_tag_item(f"BLOCK_OFFSET_{col // width}_{row // height}", "TIFF", bidx=band)
                for band in bands
            )
            if skip_sparse and not any(int(offset or 0) for offset in offsets):
                continue
            yield RioWindow(col, row, min(width, src.width - col), min(height, src.height - row))
