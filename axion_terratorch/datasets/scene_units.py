"""Units of a scene's rasters, judged once per scene on windows spread over it.

* Sentinel-1 in linear power (non-negative, median below 1) is converted to dB (logged); any other
  median outside the dB range is refused.
* Optical ``auto`` units are DN (divided by 10000) when the 99th percentile is above 2 (any dtype),
  else reflectance; ``dn``/``reflectance`` are checked the same way and refused when implausible.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator

import numpy as np
import rasterio
from rasterio.enums import Interleaving
from rasterio.errors import RasterioError
from rasterio.windows import Window as RioWindow

from axion_terratorch.constants import REFLECTANCE_SCALE, OpticalUnits
from axion_terratorch.datasets.scene_bands import RasterBands, SceneInputError
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

logger = logging.getLogger(__name__)

#: Units are judged on up to this many windows of ``SAMPLE_SIDE`` px spread evenly over a scene.
SAMPLE_WINDOWS = 16
SAMPLE_SIDE = 256


def with_sar_units(src: rasterio.DatasetReader, raster: RasterBands, units: S1Units = "auto") -> RasterBands:
    """``raster`` converting linear power (or amplitude) to dB as ``units`` says, or when the sample
    looks like power for ``auto``; refuse implausible values and, for ``auto``, linear amplitude."""
    sample = sample_values(src, raster)
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


def with_optical_units(
    src: rasterio.DatasetReader,
    raster: RasterBands,
    units: OpticalUnits,
    option: str,
    nodata_option: str | None = None,
) -> RasterBands:
    """``raster`` with the scale of ``units`` (judged from a sample for ``auto``), checked for plausibility:
    with ``nodata_option``, an undeclared sentinel nodata is refused; negative reflectance beyond
    noise always is."""
    sample = sample_values(src, raster)
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


def sample_values(src: rasterio.DatasetReader, raster: RasterBands) -> np.ndarray:
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
