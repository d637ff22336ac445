"""The one module that writes fake rasters for the tests: GeoTIFFs (:func:`write_tif`), tiles in each
supported layout (GeoTIFF folders, NPZ, torchgeo datasets) and their shared synthetic scene."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine, from_origin
from scipy import ndimage

from axion_terratorch.constants import S2L2A_BANDS

CRS = "EPSG:32633"
ORIGIN = (400000.0, 5300000.0)
#: Native pixel size of each Sentinel-2 band, metres.
NATIVE_RES = (
    {band: 10 for band in ("B02", "B03", "B04", "B08")}
    | {band: 20 for band in ("B05", "B06", "B07", "B8A", "B11", "B12")}
    | {band: 60 for band in ("B01", "B09")}
)


def scene(seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(S1 (2, size, size) dB, S2 (12, size, size) DN float)`` sharing one smooth structure."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), 3)
    field = (field - field.min()) / (np.ptp(field) + 1e-9)
    sar = np.stack([-18 + 10 * field, -24 + 8 * field])
    gains = np.linspace(0.5, 1.5, len(S2L2A_BANDS))[:, None, None]
    optical = 300 + 2500 * field[None] * gains
    return sar.astype(np.float32), optical.astype(np.float32)


def write_tif(
    path: Path,
    array: np.ndarray,
    descriptions: list[str] | None = None,
    nodata: float | None = None,
    *,
    res: float = 10,
    origin: tuple[float, float] = ORIGIN,
    crs: str | CRS | None = CRS,
    transform: Affine | None = None,
) -> Path:
    """Write (C, H, W) or (H, W) ``array`` as a GeoTIFF with its dtype.

    The grid is ``transform`` if given, else ``res`` m pixels from ``origin``; ``crs=None`` writes
    no georeference at all.
    """
    array = array[None] if array.ndim == 2 else array
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": array.shape[1],
        "width": array.shape[2],
        "count": array.shape[0],
        "dtype": array.dtype,
        "nodata": nodata,
    }
    if crs is not None:
        profile |= {"crs": crs, "transform": transform or from_origin(*origin, res, res)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
        for index, text in enumerate(descriptions or [], start=1):
            dst.set_band_description(index, text)
    return path


def write_sparse_tif(path: Path, size: int, descriptions: list[str]) -> Path:
    """A ``size`` x ``size`` uint16 GeoTIFF with no data written (sparse tiles): huge on the grid,
    tiny on disk."""
    profile = {
        "driver": "GTiff", "height": size, "width": size, "count": len(descriptions), "dtype": "uint16",
        "crs": CRS, "transform": from_origin(*ORIGIN, 10, 10), "tiled": True,
        "blockxsize": 4096, "blockysize": 4096, "sparse_ok": True,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for index, name in enumerate(descriptions, 1):
            dst.set_band_description(index, name)
    return path


def write_multiband_pair(root: Path, name: str, size: int = 40, seed: int = 0, describe: bool = True) -> None:
    """``<name>_S1.tif`` (VV, VH float32 dB) and ``<name>_S2.tif`` (12 bands uint16 DN)."""
    sar, optical = scene(seed, size)
    write_tif(root / f"{name}_S1.tif", sar, descriptions=["VV", "VH"] if describe else None)
    write_tif(
        root / f"{name}_S2.tif",
        optical.astype(np.uint16),
        descriptions=list(S2L2A_BANDS) if describe else None,
    )


def block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Average (H, W) over ``factor`` x ``factor`` blocks."""
    h, w = array.shape
    return array.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def write_per_band_pair(root: Path, name: str, size: int = 60, seed: int = 0) -> None:
    """One file per band at native resolution (BigEarthNet-like): ``<name>_VV.tif``, ``<name>_B05.tif``."""
    sar, optical = scene(seed, size)
    for band, layer in zip(("VV", "VH"), sar, strict=True):
        write_tif(root / "s1" / f"{name}_{band}.tif", layer)
    for band, layer in zip(S2L2A_BANDS, optical, strict=True):
        factor = NATIVE_RES[band] // 10
        write_tif(
            root / "s2" / f"{name}_{band}.tif", block_mean(layer, factor).astype(np.uint16), res=10 * factor
        )


def write_npz(root: Path, name: str, size: int = 40, seed: int = 0, split: str | None = None) -> Path:
    """An NPZ tile of the original pipeline (S2 as DN), with an optional JSON sidecar."""
    sar, optical = scene(seed, size)
    arrays = {"s1_vv": sar[0], "s1_vh": sar[1]}
    for band in ("B02", "B03", "B04", "B08"):
        arrays[f"s2_b{int(band[1:])}"] = optical[S2L2A_BANDS.index(band)]
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.npz"
    np.savez(path, **arrays)
    if split is not None:
        path.with_suffix(".json").write_text(json.dumps({"split": split, "source": "test"}))
    return path


def write_sen12ms(root: Path, size: int = 32) -> None:
    """Three SEN12MS triplets in torchgeo's layout, two train and one test (S2 L1C, 13 bands, DN).

    Tile ``k`` (in the order train p1, train p2, test p3) holds ``scene(k, size)``.
    """
    for season in ("ROIs1158_spring", "ROIs1868_summer", "ROIs1970_fall", "ROIs2017_winter"):
        (root / season).mkdir(parents=True, exist_ok=True)
    ids = {
        "train": ["ROIs1158_spring_lc_1_p1.tif", "ROIs1158_spring_lc_1_p2.tif"],
        "test": ["ROIs1868_summer_lc_2_p3.tif"],
    }
    seed = 0
    for split, filenames in ids.items():
        for filename in filenames:
            parts = filename.split("_")
            sar, optical = scene(seed, size)
            seed += 1
            for source, array in (
                ("s1", sar),
                ("s2", l1c(optical)),
                ("lc", np.ones((4, size, size), np.uint16)),
            ):
                folder = root / f"{parts[0]}_{parts[1]}" / f"{source}_{parts[3]}"
                write_tif(folder / f"{parts[0]}_{parts[1]}_{source}_{parts[3]}_{parts[4]}", array)
        (root / f"{split}_list.txt").write_text("\n".join(filenames) + "\n")


def l1c(optical: np.ndarray) -> np.ndarray:
    """12 L2A-ordered bands -> 13 uint16 bands in SEN12MS order (B10, cirrus, = 50 DN after B09)."""
    return np.insert(optical, 10, 50.0, axis=0).astype(np.uint16)


def write_sen12mscr(
    root: Path, names: list[str], size: int = 32, cloudfree: bool = True, cloudy: bool = True
) -> None:
    """SEN12MS-CR folders: ``s1/<name>.tif`` (VV, VH dB), ``s2_cloudfree/<name>.tif`` and
    ``s2_cloudy/<name>.tif`` (13 bands, uint16 DN, :func:`l1c` of ``scene(k, size)`` for the k-th
    name; the cloudy one has 4000 DN added over its left half, a cloud)."""
    for seed, name in enumerate(names):
        sar, optical = scene(seed, size)
        write_tif(root / "s1" / f"{name}.tif", sar)
        if cloudfree:
            write_tif(root / "s2_cloudfree" / f"{name}.tif", l1c(optical))
        if cloudy:
            clouded = optical.copy()
            clouded[:, :, : size // 2] += 4000
            write_tif(root / "s2_cloudy" / f"{name}.tif", l1c(clouded))


def write_ssl4eo(root: Path, locations: int = 2, size: int = 24, seasons: int = 4) -> None:
    """SSL4EO-S12 in torchgeo's layout: ``s1`` and ``s2a``, ``seasons`` (1-4) seasons per location.

    Season ``k`` of a location has S1 (dB) ``-20 + k`` everywhere in VV and S2 DN ``1000 * (k + 1)``
    in every band, so a test can tell which seasons were paired. S2 is acquired 3 days after S1.
    """
    s2_bands = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12")
    for location in range(locations):
        for season, month in enumerate(("03", "06", "09", "12")[:seasons]):
            s1_dir = (
                root / "s1" / f"{location:07}" / f"S1A_IW_GRDH_1SDV_2021{month}05T120000_2021{month}05T120030"
            )
            for band, value in (("VV", -20.0 + season), ("VH", -26.0 + season)):
                write_tif(s1_dir / f"{band}.tif", np.full((size, size), value, np.float32))
            s2_dir = root / "s2a" / f"{location:07}" / f"2021{month}08T100000_2021{month}08T100000_T33UUP"
            for band in s2_bands:
                write_tif(s2_dir / f"{band}.tif", np.full((size, size), 1000 * (season + 1), np.uint16))
