"""Band names, modality keys and TerraMind v1 pretraining statistics.

Units used throughout the package:

* ``S1GRD``: Sentinel-1 GRD backscatter, bands ``(VV, VH)``, in dB.
* ``S2L2A``: Sentinel-2 L2A surface reflectance, i.e. DN / 10000 (``REFLECTANCE_SCALE``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

#: A file or folder path argument (as torchgeo's ``Path``).
PathLike: TypeAlias = str | os.PathLike[str]
#: How an optical GeoTIFF's values are read: ``auto`` (DN when the 99th percentile is above 2, else
#: reflectance), ``reflectance`` or ``dn`` (reflectance x 10000).
OpticalUnits = Literal["auto", "reflectance", "dn"]
#: Modality key of the Sentinel-1 GRD input in ``batch["image"]`` (TerraMind's name).
SAR_KEY = "S1GRD"
#: Modality key of the optical (Stage 2) input in ``batch["image"]`` (TerraMind's name).
OPTICAL_KEY = "S2L2A"
#: Sample key of where structural Stage 2 errors changed the optical input: float32 (1, H, W) in
#: [0, 1] (``axion_terratorch.datasets.stage2_errors``; 0 where nothing was changed).
ERROR_MASK_KEY = "error_mask"

#: Sentinel-1 GRD polarisations, in input order.
S1GRD_BANDS: tuple[str, ...] = ("VV", "VH")
#: Sentinel-2 L2A bands in TerraMind's S2L2A slot order (``PRETRAINED_BANDS["untok_sen2l2a@224"]``).
S2L2A_BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip
#: TerraMind's own names of the S2L2A slots, same order as ``S2L2A_BANDS``.
TERRAMIND_S2L2A_NAMES: tuple[str, ...] = (
    "COASTAL_AEROSOL", "BLUE", "GREEN", "RED", "RED_EDGE_1", "RED_EDGE_2", "RED_EDGE_3",
    "NIR_BROAD", "NIR_NARROW", "WATER_VAPOR", "SWIR_1", "SWIR_2",
)  # fmt: skip
#: The original Stage 3 guide's optical bands: blue, green, red, NIR (10 m bands).
DEFAULT_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B08")

#: Sentinel-2 reflectance = DN / REFLECTANCE_SCALE.
REFLECTANCE_SCALE = 10000.0

# TerraMind v1 pretraining statistics (terratorch ``v1_pretraining_mean/std``).
#: S1GRD mean and std, dB, (VV, VH).
S1GRD_MEAN: tuple[float, ...] = (-12.599, -20.293)
S1GRD_STD: tuple[float, ...] = (5.195, 5.890)
#: S2L2A mean and std in DN (reflectance x 10000), ``S2L2A_BANDS`` order.
S2L2A_MEAN: tuple[float, ...] = (
    1390.458, 1503.317, 1718.197, 1853.91, 2199.1, 2779.975,
    2987.011, 3083.234, 3132.22, 3162.988, 2424.884, 1857.648,
)  # fmt: skip
S2L2A_STD: tuple[float, ...] = (
    2106.761, 2141.107, 2038.973, 2134.138, 2085.321, 1889.926,
    1820.257, 1871.918, 1753.829, 1797.379, 1434.261, 1334.311,
)  # fmt: skip


def band_slots(bands: Sequence[str]) -> list[int]:
    """Return the TerraMind S2L2A slot of each band name (``B02`` is slot 1, ``B08`` slot 7).

    Raises:
        ValueError: If a band is unknown or repeated; the message lists the valid names.
    """
    unknown = [b for b in bands if b not in S2L2A_BANDS]
    if unknown:
        msg = f"unknown Sentinel-2 L2A band(s) {unknown}; valid bands are {list(S2L2A_BANDS)}"
        raise ValueError(msg)
    if len(set(bands)) != len(bands):
        msg = f"bands must not repeat, got {list(bands)}"
        raise ValueError(msg)
    if not bands:
        msg = "bands must name at least one Sentinel-2 L2A band"
        raise ValueError(msg)
    return [S2L2A_BANDS.index(b) for b in bands]


def rgb_indices(bands: Sequence[str]) -> tuple[int, int, int]:
    """Return the positions of red (B04), green (B03) and blue (B02) in ``bands``.

    Raises:
        ValueError: If one of B04, B03, B02 is missing from ``bands``.
    """
    band_slots(bands)
    missing = [b for b in ("B04", "B03", "B02") if b not in bands]
    if missing:
        msg = f"bands {list(bands)} lack {missing}: red, green and blue (B04, B03, B02) are needed"
        raise ValueError(msg)
    return bands.index("B04"), bands.index("B03"), bands.index("B02")


def assign_bands(module: Any, bands: Sequence[str]) -> tuple[str, ...]:
    """Give ``module`` and each of its submodules (``module.modules()``) with a ``bands`` attribute
    the optical ``bands``; return them as a tuple.

    How a loss or a metric collection built without ``bands`` takes those of the model it is used
    with (``SARGroundingTask`` calls their ``use_bands``).

    Raises:
        ValueError: If ``bands`` lack red, green or blue (:func:`rgb_indices`).
    """
    bands = tuple(bands)
    rgb_indices(bands)
    for part in module.modules():
        if hasattr(part, "bands"):
            part.bands = bands
    return bands
