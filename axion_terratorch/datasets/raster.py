"""GeoTIFF reading with rasterio: headers for eager checks, pixels on a target grid, NaN for nodata."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.warp import Resampling, reproject

from axion_terratorch.datasets.errors import BadTileError

#: Most pixels per band a tile reader loads at once (2**28: 1 GiB of float32, a 16384 px square, more than
#: a whole 10980 px Sentinel-2 granule). Larger declared sizes are refused before any allocation.
MAX_BAND_PIXELS = 2**28


def check_pixels(height: int, width: int, where: str) -> None:
    """Refuse a declared ``height`` x ``width`` above :data:`MAX_BAND_PIXELS`.

    Raises:
        BadTileError: If the size is too large; the message names ``where`` (file, key).
    """
    if height * width > MAX_BAND_PIXELS:
        msg = f"{where}: declares {height}x{width} px, more than {MAX_BAND_PIXELS} px per band; cut it into tiles"
        raise BadTileError(msg)


def check_real_dtype(dtype: np.dtype | str, where: str) -> None:
    """Refuse data types that do not convert to float32 without loss of meaning (complex, text, records).

    Raises:
        BadTileError: If ``dtype`` is not boolean, integer or floating point; the message names ``where``.
    """
    if np.dtype(dtype).kind not in "biuf":
        msg = f"{where}: data type {np.dtype(dtype)} is not a real number type (expected integer or float)"
        raise BadTileError(msg)


@dataclass(frozen=True)
class Grid:
    """Pixel grid of a raster: CRS (``None`` if not georeferenced), affine transform and shape."""

    crs: CRS | None
    transform: Affine
    height: int
    width: int

    def same_as(self, other: Grid) -> bool:
        """Same CRS, shape and transform (to 1/1000 of a pixel)."""
        tolerance = 1e-3 * max(abs(self.transform.a), abs(self.transform.e), 1e-12)
        close = all(abs(a - b) <= tolerance for a, b in zip(self.transform, other.transform, strict=True))
        return self.crs == other.crs and (self.height, self.width) == (other.height, other.width) and close

    def describe(self) -> str:
        """One line: CRS, pixel size, origin and shape."""
        crs = self.crs.to_string() if self.crs else "no CRS"
        t = self.transform
        return f"{crs}, {abs(t.a):g} m px, origin ({t.c:.2f}, {t.f:.2f}), {self.height}x{self.width} px"


@dataclass(frozen=True)
class RasterHeader:
    """What a GeoTIFF says about itself without reading pixels."""

    path: Path
    count: int
    grid: Grid
    descriptions: tuple[str | None, ...]
    nodata: float | None


def read_header(path: str | os.PathLike[str]) -> RasterHeader:
    """Open ``path`` and read its header.

    Raises:
        BadTileError: If the file is missing or not a readable raster; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: file not found"
        raise BadTileError(msg)
    try:
        with rasterio.open(path) as src:
            grid = Grid(src.crs, src.transform, src.height, src.width)
            return RasterHeader(path, src.count, grid, tuple(src.descriptions), src.nodata)
    except RasterioError as error:
        msg = f"{path}: unreadable raster ({error})"
        raise BadTileError(msg) from error


def read_bands(
    path: str | os.PathLike[str],
    indexes: Sequence[int],
    grid: Grid | None = None,
    nodata: float | None = None,
) -> np.ndarray:
    """Read bands of ``path`` as float32 (C, H, W), with NaN where the pixel is nodata.

    Args:
        path: GeoTIFF file.
        indexes: 1-based band indexes, in output order.
        grid: Output grid; the raster is resampled onto it (bilinear) when its own grid differs:
            reprojected when both are georeferenced, else resized over the same extent.
        nodata: Nodata value used when the file declares none.

    Raises:
        BadTileError: If the file is unreadable or truncated, only one of the raster and ``grid``
            is georeferenced, its data type is not real (e.g. complex) or it declares more than
            :data:`MAX_BAND_PIXELS` per band; the message names the file.
    """
    path = Path(path)
    try:
        with rasterio.open(path) as src:
            own = Grid(src.crs, src.transform, src.height, src.width)
            for index in indexes:
                check_real_dtype(src.dtypes[index - 1], f"{path} band {index}")
            check_pixels(src.height, src.width, str(path))
            if grid is not None:
                check_pixels(grid.height, grid.width, f"{path} (output grid)")
            fill = src.nodata if src.nodata is not None else nodata
            if grid is None or own.same_as(grid):
                data = src.read(list(indexes)).astype(np.float32)
            elif own.crs is not None and grid.crs is not None:
                data = np.full((len(indexes), grid.height, grid.width), np.nan, dtype=np.float32)
                for out, index in zip(data, indexes, strict=True):
                    reproject(
                        src.read(index).astype(np.float32),
                        out,
                        src_transform=own.transform,
                        src_crs=own.crs,
                        src_nodata=fill if fill is not None else np.nan,
                        dst_transform=grid.transform,
                        dst_crs=grid.crs,
                        dst_nodata=np.nan,
                        resampling=Resampling.bilinear,
                    )
                fill = None  # nodata is NaN already
            elif own.crs is None and grid.crs is None:
                shape = (len(indexes), grid.height, grid.width)
                data = src.read(list(indexes), out_shape=shape, resampling=Resampling.bilinear)
                data = data.astype(np.float32)
            else:
                msg = f"{path}: cannot place it on the grid ({grid.describe()}): only one is georeferenced"
                raise BadTileError(msg)
    except RasterioError as error:
        msg = f"{path}: cannot read pixels, the file may be truncated ({error})"
        raise BadTileError(msg) from error
    except MemoryError as error:
        msg = f"{path}: not enough memory to read {len(indexes)} band(s) of it ({error})"
        raise BadTileError(msg) from error
    if fill is not None:
        data[data == fill] = np.nan
    return data
