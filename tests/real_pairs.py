"""Reader of the real BigEarthNet v1 pairs beside the checkout (tests skip without them)."""

import json
from pathlib import Path

import numpy as np
import rasterio
import torch

from run_configs import SHARED_DATA

BANDS = ("B02", "B03", "B04", "B08")
#: Seasonal snow: S1 and S2 edges do not agree there (see the data's README).
SNOW = "S1A_IW_GRDH_1SDV_20180204T043253_35VPK_57_38"


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


def load_pairs() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, sar (1, 2, 120, 120) dB, optical (1, 4, 120, 120) reflectance)`` of the non-snow pairs."""
    pairs = []
    for s1_dir in sorted((SHARED_DATA / "BigEarthNet-S1-v1.0").iterdir()):
        name = s1_dir.name
        if name == SNOW:
            continue
        s2 = json.loads((s1_dir / f"{name}_labels_metadata.json").read_text())["corresponding_s2_patch"]
        sar = np.stack([_read(s1_dir / f"{name}_{pol}.tif") for pol in ("VV", "VH")])
        s2_dir = SHARED_DATA / "BigEarthNet-v1.0" / s2
        optical = np.stack([_read(s2_dir / f"{s2}_{band}.tif") for band in BANDS]) / 10000
        pairs.append((name, torch.from_numpy(sar)[None], torch.from_numpy(optical)[None]))
    return pairs
