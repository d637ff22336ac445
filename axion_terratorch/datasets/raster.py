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
from rasterio.enums import Interleaving
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


#: At most this many blocks per band are checked by :func:`check_blocks` (the first and the last ones).
MAX_CHECKED_BLOCKS = 200_000


def check_blocks(src: rasterio.DatasetReader, path: Path, indexes: Sequence[int]) -> None:
    """Refuse a GeoTIFF whose header is intact but whose pixel data is cut off (a truncated download).

    Compares each block's byte range (GDAL's ``BLOCK_OFFSET_x_y`` / ``BLOCK_SIZE_x_y`` of the ``TIFF``
    metadata domain, no pixel read) with the file size. Sparse blocks (not stored: no offset) are fine; non-TIFF
    files are not checked. Beyond :data:`MAX_CHECKED_BLOCKS` blocks per band, the first and the last
    halves of that many are checked (a cut-off file loses its last blocks).

    Raises:
        BadTileError: Naming the file, the band and block, and the sizes.
    """
    if src.driver != "GTiff":
        return
    size = path.stat().st_size
    bands = [1] if src.interleaving == Interleaving.pixel else sorted(set(indexes))
    for band in bands:
        block_h, block_w = src.block_shapes[band - 1]
        rows, cols = -(-src.height // block_h), -(-src.width // block_w)
        total = rows * cols
        half = MAX_CHECKED_BLOCKS // 2
        numbers = range(total) if total <= MAX_CHECKED_BLOCKS else [*range(half), *range(total - half, total)]
        for number in numbers:
            row, col = divmod(number, cols)
            offset = int(src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band) or 0)
            if not offset:  # a sparse block, not stored in the file
                continue
            end = offset + int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band) or 0)
            if end > size:
                msg = (
                    f"{path}: truncated: band {band}, block (row {row}, column {col}) ends at byte {end} but "
                    f"the file has {size} bytes; download or write the file again"
                )
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
        return self.difference(other) is None

    def difference(self, other: Grid) -> str | None:
        """``None`` on the same grid, else the first difference: ``"size (width, height) (a, b) vs (c, d)"``,
        ``"CRS ..."`` or ``"transform ..."`` (compared to 1/1000 of a pixel)."""
        if (self.height, self.width) != (other.height, other.width):
            return f"size (width, height) {(self.width, self.height)} vs {(other.width, other.height)}"
        if self.crs != other.crs:
            return f"CRS {self.crs} vs {other.crs}"
        tolerance = 1e-3 * max(abs(self.transform.a), abs(self.transform.e), 1e-12)
        if any(abs(a - b) > tolerance for a, b in zip(self.transform, other.transform, strict=True)):
            return f"transform {tuple(self.transform)[:6]} vs {tuple(other.transform)[:6]}"
        return None

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
        BadTileError: If the file is missing, not a readable raster or truncated (:func:`check_blocks`);
            the message names it.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: file not found"
        raise BadTileError(msg)
    try:
        with rasterio.open(path) as src:
            check_blocks(src, path, range(1, src.count + 1))
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
