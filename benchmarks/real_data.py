"""The real Sentinel-1 / Sentinel-2 pairs beside the checkout, whole, for the quality benchmarks.

``../shared/data/bigearthnet_v1_example`` (six BigEarthNet v1 pairs, 120 px; S1 read at full
precision from its GeoTIFFs) and ``../shared/data/ssl4eo_s12_example`` (one SSL4EO-S12 location, two
dates paired by time, 264 px, L2A). Each pair is named ``<location>_<patch>``; its Stage 2 input is
the documented proxy (:func:`~axion_terratorch.datasets.degradation.stage2_proxy`, seed 0), as the
training data modules make it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.datasets.degradation import stage2_proxy

#: Folder of the shared data, from the checkout root.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: The BigEarthNet pair with seasonal snow (S1 and S2 edges disagree; see the data's README).
SNOW = "35VPK_57_38"


@dataclass(frozen=True)
class RealPair:
    """One real pair: ``sar`` (1, 2, H, W) dB, ``truth`` and ``proxy`` (1, 4, H, W) reflectance."""

    name: str
    location: str
    sar: torch.Tensor
    truth: torch.Tensor
    proxy: torch.Tensor


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


def _pair(name: str, location: str, sar: np.ndarray, truth: np.ndarray, seed: int) -> RealPair:
    proxy = stage2_proxy(truth, name, seed)
    return RealPair(
        name, location, *(torch.from_numpy(np.ascontiguousarray(a))[None] for a in (sar, truth, proxy))
    )


def bigearthnet_pairs(root: Path = SHARED_DATA / "bigearthnet_v1_example", seed: int = 0) -> list[RealPair]:
    """The BigEarthNet v1 example pairs; the location is the MGRS tile of the S1 name."""
    pairs = []
    for s1_dir in sorted((root / "BigEarthNet-S1-v1.0").iterdir()):
        s2 = json.loads(next(s1_dir.glob("*_labels_metadata.json")).read_text())["corresponding_s2_patch"]
        sar = np.stack([_read(s1_dir / f"{s1_dir.name}_{pol}.tif") for pol in ("VV", "VH")])
        truth = (
            np.stack([_read(root / "BigEarthNet-v1.0" / s2 / f"{s2}_{b}.tif") for b in DEFAULT_BANDS]) / 1e4
        )
        location, row, col = s1_dir.name.split("_")[-3:]
        pairs.append(_pair(f"{location}_{row}_{col}", location, sar, truth, seed))
    return pairs


def ssl4eo_pairs(root: Path = SHARED_DATA / "ssl4eo_s12_example", seed: int = 0) -> list[RealPair]:
    """The SSL4EO-S12 example: each S1 date with the S2 date of the same rank (3 and 21 days apart)."""
    pairs = []
    for location_dir in sorted((root / "s1").iterdir()):
        s1_dates = sorted(location_dir.iterdir())
        s2_dates = sorted((root / "s2a" / location_dir.name).iterdir())
        for season, (s1_dir, s2_dir) in enumerate(zip(s1_dates, s2_dates, strict=True)):
            sar = np.stack([_read(s1_dir / f"{pol}.tif") for pol in ("VV", "VH")])
            truth = np.stack([_read(s2_dir / f"B{int(b[1:])}.tif") for b in DEFAULT_BANDS]) / 1e4
            pairs.append(_pair(f"{location_dir.name}_{season}", location_dir.name, sar, truth, seed))
    return pairs


def real_pairs(root: Path = SHARED_DATA, seed: int = 0) -> list[RealPair]:
    """Every real pair under ``root`` (BigEarthNet first, then SSL4EO-S12)."""
    return bigearthnet_pairs(root / "bigearthnet_v1_example", seed) + ssl4eo_pairs(
        root / "ssl4eo_s12_example", seed
    )
