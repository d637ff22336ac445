"""Which bands of a scene's GeoTIFFs the model reads, and the errors of scene inputs.

Band names by :func:`~axion_terratorch.datasets.bands.normalize_band` (or the names given), data
types by :func:`~axion_terratorch.datasets.raster.check_real_dtype`, grids by
:class:`~axion_terratorch.datasets.raster.Grid`; :mod:`axion_terratorch.datasets.scene_inputs` puts
them together.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError

from axion_terratorch.constants import S1GRD_BANDS
from axion_terratorch.datasets.bands import normalize_band
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import Grid, check_real_dtype
from axion_terratorch.datasets.units import power_to_db

logger = logging.getLogger(__name__)

#: Optical nodata when a file declares none (0 in Sentinel-2 L1C/L2A products, the training default).
OPTICAL_NODATA = TileOptions.s2_nodata


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


@contextlib.contextmanager
def scene_errors() -> Iterator[None]:
    """Report the raster layer's :class:`BadTileError` (and GDAL read errors) as :class:`SceneInputError`."""
    try:
        yield
    except SceneInputError:
        raise
    except BadTileError as error:
        raise SceneInputError(str(error)) from error


def open_raster(path: Path) -> rasterio.DatasetReader:
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


def raster_bands(
    src: rasterio.DatasetReader, path: Path, indexes: tuple[int, ...], names: Sequence[str]
) -> RasterBands:
    for index in indexes:
        check_real_dtype(src.dtypes[index - 1], f"{path} band {index}")
    descriptions = tuple(src.descriptions[i - 1] for i in indexes)
    return RasterBands(path, indexes, tuple(names), descriptions, src.nodata, src.nodata)


def find_sar_bands(src: rasterio.DatasetReader, path: Path) -> RasterBands:
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
    return raster_bands(src, path, indexes, S1GRD_BANDS)


def find_optical_bands(
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
    raster = raster_bands(src, path, tuple(names.index(b) + 1 for b in bands), bands)
    fill = nodata if nodata is not None else raster.nodata if raster.nodata is not None else OPTICAL_NODATA
    return dataclasses.replace(raster, fill=fill)


def check_grid(a: rasterio.DatasetReader, a_path: Path, b: rasterio.DatasetReader, b_path: Path) -> None:
    grids = [Grid(src.crs, src.transform, src.height, src.width) for src in (a, b)]
    difference = grids[0].difference(grids[1])
    if difference is not None:
        msg = (
            f"{a_path} and {b_path} are not on the same grid: {difference}. "
            "Resample one onto the other first (e.g. gdalwarp -te ... -tr ... -t_srs ...)."
        )
        raise SceneInputError(msg)
