"""The real Sentinel-1 / Sentinel-2 pairs beside the checkout, whole, for the quality benchmarks.

``../shared/data/bigearthnet_v1_example`` (six BigEarthNet v1 pairs, 120 px, L2A; S1 read at full
precision from its GeoTIFFs), ``../shared/data/ssl4eo_s12_example`` (one SSL4EO-S12 location, two
dates paired by time, 264 px, L2A ``s2a`` and L1C ``s2c``) and ``../shared/data/sen12mscr_example``
(three SEN12MS-CR patches, 256 px, L1C). Each pair is named ``<location>_<patch>``; its Stage 2 input
is the documented proxy (:func:`~axion_terratorch.datasets.degradation.stage2_proxy`, seed 0), as the
training data modules make it; ``band_gain=(1.0, 1.0)`` leaves out its band gains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.datasets.degradation import BAND_GAIN, stage2_proxy

#: Folder of the shared data, from the checkout root.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Band indices of B02, B03, B04, B08 in a SEN12MS-CR Sentinel-2 file (13 bands, B01 ... B12 with B8A, B10).
SEN12MS_RGBN = (1, 2, 3, 7)
#: The BigEarthNet pair with seasonal snow (S1 and S2 edges disagree; see the data's README).
SNOW = "35VPK_57_38"


@dataclass(frozen=True)
class RealPair:
    """One real pair: ``sar`` (1, 2, H, W) dB, ``truth`` and ``proxy`` (1, 4, H, W) reflectance.

    ``group`` names its source and processing level (``bigearthnet-l2a``, ``ssl4eo-l2a``,
    ``ssl4eo-l1c``, ``sen12mscr-l1c``).
    """

    name: str
    location: str
    sar: torch.Tensor
    truth: torch.Tensor
    proxy: torch.Tensor
    group: str = "bigearthnet-l2a"


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


def _pair(
    name: str,
    location: str,
    sar: np.ndarray,
    truth: np.ndarray,
    seed: int,
    group: str,
    band_gain: tuple[float, float] = BAND_GAIN,
) -> RealPair:
    truth = truth.astype(np.float32)
    proxy = stage2_proxy(truth, name, seed, band_gain=band_gain)
    tensors = (torch.from_numpy(np.ascontiguousarray(a))[None] for a in (sar, truth, proxy))
    return RealPair(name, location, *tensors, group=group)


def bigearthnet_pairs(
    root: Path = SHARED_DATA / "bigearthnet_v1_example",
    seed: int = 0,
    band_gain: tuple[float, float] = BAND_GAIN,
) -> list[RealPair]:
    """The BigEarthNet v1 example pairs; the location is the MGRS tile of the S1 name."""
    pairs = []
    for s1_dir in sorted((root / "BigEarthNet-S1-v1.0").iterdir()):
        s2 = json.loads(next(s1_dir.glob("*_labels_metadata.json")).read_text())["corresponding_s2_patch"]
        sar = np.stack([_read(s1_dir / f"{s1_dir.name}_{pol}.tif") for pol in ("VV", "VH")])
        truth = (
            np.stack([_read(root / "BigEarthNet-v1.0" / s2 / f"{s2}_{b}.tif") for b in DEFAULT_BANDS]) / 1e4
        )
        location, row, col = s1_dir.name.split("_")[-3:]
        pairs.append(
            _pair(f"{location}_{row}_{col}", location, sar, truth, seed, "bigearthnet-l2a", band_gain)
        )
    return pairs


def ssl4eo_pairs(
    root: Path = SHARED_DATA / "ssl4eo_s12_example",
    seed: int = 0,
    level: str = "s2a",
    band_gain: tuple[float, float] = BAND_GAIN,
) -> list[RealPair]:
    """The SSL4EO-S12 example: each S1 date with the S2 date of the same rank (3 and 21 days apart).

    ``level`` is ``s2a`` (L2A, pairs ``<location>_<season>``) or ``s2c`` (L1C, ``<location>_<season>_l1c``).
    """
    group, suffix = {"s2a": ("ssl4eo-l2a", ""), "s2c": ("ssl4eo-l1c", "_l1c")}[level]
    pairs = []
    for location_dir in sorted((root / "s1").iterdir()):
        s1_dates = sorted(location_dir.iterdir())
        s2_dates = sorted((root / level / location_dir.name).iterdir())
        for season, (s1_dir, s2_dir) in enumerate(zip(s1_dates, s2_dates, strict=True)):
            sar = np.stack([_read(s1_dir / f"{pol}.tif") for pol in ("VV", "VH")])
            truth = np.stack([_read(s2_dir / f"B{int(b[1:])}.tif") for b in DEFAULT_BANDS]) / 1e4
            name = f"{location_dir.name}_{season}{suffix}"
            pairs.append(_pair(name, location_dir.name, sar, truth, seed, group, band_gain))
    return pairs


def sen12mscr_pairs(
    root: Path = SHARED_DATA / "sen12mscr_example", seed: int = 0, band_gain: tuple[float, float] = BAND_GAIN
) -> list[RealPair]:
    """The cloud-free SEN12MS-CR example patches (``s1/`` and ``s2_cloudfree/``, matching names), L1C."""
    pairs = []
    for s1_path in sorted((root / "s1").glob("*.tif")):
        with rasterio.open(s1_path) as src:
            sar = src.read((1, 2)).astype(np.float32)
        with rasterio.open(root / "s2_cloudfree" / s1_path.name) as src:
            truth = src.read([i + 1 for i in SEN12MS_RGBN]).astype(np.float32) / 1e4
        location = s1_path.stem.rsplit("_", 1)[0]
        pairs.append(_pair(s1_path.stem, location, sar, truth, seed, "sen12mscr-l1c", band_gain))
    return pairs


def real_pairs(
    root: Path = SHARED_DATA, seed: int = 0, band_gain: tuple[float, float] = BAND_GAIN
) -> list[RealPair]:
    """The L2A pairs under ``root`` (BigEarthNet, then SSL4EO-S12 ``s2a``): the real recipe's data."""
    return bigearthnet_pairs(root / "bigearthnet_v1_example", seed, band_gain) + ssl4eo_pairs(
        root / "ssl4eo_s12_example", seed, "s2a", band_gain
    )


def all_pairs(
    root: Path = SHARED_DATA, seed: int = 0, band_gain: tuple[float, float] = BAND_GAIN
) -> list[RealPair]:
    """Every shared pair, both processing levels: :func:`real_pairs`, SSL4EO-S12 ``s2c``, SEN12MS-CR."""
    return (
        real_pairs(root, seed, band_gain)
        + ssl4eo_pairs(root / "ssl4eo_s12_example", seed, "s2c", band_gain)
        + sen12mscr_pairs(root / "sen12mscr_example", seed, band_gain)
    )
