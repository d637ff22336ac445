"""GeoTIFF inputs of scene grounding: checks before anything is written, and windowed reads.

A scene is a Sentinel-1 GRD raster (VV, VH) and an optical raster (the Stage 2 estimate) on the same
grid. It is read through the raster-input layer the training readers use (``docs/data.md``): band
names by :func:`~axion_terratorch.datasets.bands.normalize_band`, units and their plausibility by
:mod:`axion_terratorch.datasets.units`, grids, data types and truncation by
:mod:`axion_terratorch.datasets.raster`. What differs is only the reading: windows of a scene of any
size instead of whole tiles, so the units are judged once per scene, on windows spread over it
(:mod:`axion_terratorch.datasets.scene_units`):

* Sentinel-1 in linear power (non-negative, median below 1) is converted to dB (logged); any other
  median outside the dB range is refused.
* Optical ``auto`` units are DN (divided by 10000) when the 99th percentile is above 2 (any dtype),
  else reflectance; ``dn``/``reflectance`` are checked the same way and refused when implausible.
* Optical nodata is the file's, else 0 (as Sentinel-2 products and ``TileOptions.s2_nodata``); an
  optical file without a valid pixel is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window as RioWindow

from axion_terratorch.constants import OpticalUnits, PathLike
from axion_terratorch.datasets.raster import check_blocks
from axion_terratorch.datasets.scene_bands import (
    RasterBands,
    check_grid,
    find_optical_bands,
    find_sar_bands,
    open_raster,
    scene_errors,
)
from axion_terratorch.datasets.scene_units import S1Units, with_optical_units, with_sar_units
from axion_terratorch.datasets.tiling import Window


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
        with scene_errors(), open_raster(self.s1_path) as sar_src, open_raster(self.optical_path) as opt_src:
            sar = find_sar_bands(sar_src, self.s1_path)
            optical_raster = find_optical_bands(
                opt_src, self.optical_path, bands, optical_bands, optical_nodata
            )
            check_grid(sar_src, self.s1_path, opt_src, self.optical_path)
            for src, raster in ((sar_src, sar), (opt_src, optical_raster)):
                check_blocks(src, raster.path, raster.indexes)
            self.profile = opt_src.profile.copy()
            self.height, self.width = opt_src.height, opt_src.width
            self.optical = with_optical_units(
                opt_src,
                optical_raster,
                optical_units,
                "optical_units (--optical-units)",
                None if optical_nodata is not None else "--optical-nodata",
            )
            self.sar = with_sar_units(sar_src, sar, s1_units)

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
    with scene_errors(), open_raster(path) as src, open_raster(scene.optical_path) as reference:
        raster = find_optical_bands(src, path, scene.bands, optical_bands)
        check_grid(reference, scene.optical_path, src, path)
        check_blocks(src, path, raster.indexes)
        return with_optical_units(src, raster, optical_units, units_option)


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
