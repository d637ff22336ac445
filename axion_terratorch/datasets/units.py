"""Unit conversion and plausibility checks: Sentinel-1 to dB, Sentinel-2 DN to reflectance.

Conventions (see ``docs/data.md``):

* Sentinel-1 backscatter is returned in dB. Linear power (no negative value and a median below 1)
  is detected and converted with ``10 * log10``; zero or negative power becomes NaN (nodata).
* Sentinel-2 reflectance is ``(DN + offset) / scale`` (L2A: scale 10000, offset -1000 from
  processing baseline 04.00, January 2022, else 0).

Checks run on finite pixels only and raise :class:`BadTileError` naming the file when a tile does
not look like the unit it is declared in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np

from axion_terratorch.datasets.errors import BadTileError

logger = logging.getLogger(__name__)

#: Plausible median backscatter of a tile, dB (sigma0 of land and water lies in about -35..+5).
SAR_DB_MEDIAN_RANGE = (-50.0, 20.0)
#: Largest plausible 99th percentile of reflectance (bright clouds and snow reach about 1.5).
MAX_REFLECTANCE_P99 = 2.0
#: A tile whose largest reflectance is below this was most likely scaled twice.
MIN_REFLECTANCE_MAX = 2e-3


#: Values that mark nodata in common products, taken as data when a file does not declare them.
SENTINEL_NODATA = (-9999.0, -32768.0, 65535.0)
#: Share of pixels at a sentinel value above which an undeclared sentinel is refused.
MAX_SENTINEL_SHARE = 1e-3
#: Reflectance below this is not noise (L2A's offset gives dark water about -0.02 at worst).
NEGATIVE_REFLECTANCE = -0.1
#: Share of pixels below :data:`NEGATIVE_REFLECTANCE` above which the values are refused.
MAX_NEGATIVE_SHARE = 0.01
#: Sentinel-1 units: ``auto`` (dB, or linear power when non-negative with a median below 1),
#: ``db``, ``power`` (linear sigma0) or ``amplitude`` (its square root).
S1Units = Literal["auto", "db", "power", "amplitude"]
#: Linear Sentinel-1 read as power looks like amplitude when its VV and VH medians are closer than
#: :data:`AMPLITUDE_MAX_RATIO_DB` and either both above these dB, or its darkest VH (5th percentile)
#: above :data:`AMPLITUDE_MIN_VH_P5_DB`: amplitude halves every dB value. Real power scenes: VV -7.9 to
#: -24.5, VH -15.6 to -26.7, ratio 2.1-7.8 dB, VH 5th percentile -19.1 to -30.7 (the margins on the
#: shared BigEarthNet, SSL4EO-S12 and SEN12MS-CR files are in docs/reliability.md).
AMPLITUDE_MIN_MEDIANS_DB = (-8.5, -14.0)
AMPLITUDE_MAX_RATIO_DB = 5.0
#: Sigma0 of the darkest VH pixels lies near the noise floor (about -22 dB or below): taken as power,
#: amplitude puts them above this (a scene near the noise floor, e.g. snow at -25 dB, has low medians
#: in either form and is told apart by this tail only).
AMPLITUDE_MIN_VH_P5_DB = -17.0


#: How a training config fixes a unit problem (``TileOptions``); ``predict`` and ``check`` pass their options.
SAR_FIX = "give VV/VH backscatter in dB or linear power"
DN_FIX = "set the scale (10000 for L1C/L2A DN)"
REFLECTANCE_FIX = "set the scale to 1"


def is_linear_power(sar: np.ndarray) -> bool:
    """Whether finite backscatter values look like linear power: none negative, median below 1."""
    finite = sar[np.isfinite(sar)]
    return finite.size > 0 and float(finite.min()) >= 0 and float(np.median(finite)) < 1


def looks_like_amplitude(sar: np.ndarray) -> bool:
    """Whether linear ``(2, ...)`` VV/VH values look like amplitude rather than power (see
    :data:`AMPLITUDE_MIN_MEDIANS_DB`): taken as power, the medians too close and either both too high
    or the darkest VH too bright for sigma0 (:data:`AMPLITUDE_MIN_VH_P5_DB`)."""
    db = power_to_db(sar.reshape(2, -1))
    finite = [band[np.isfinite(band)] for band in db]
    if not all(band.size for band in finite):
        return False
    vv, vh = (float(np.median(band)) for band in finite)
    low_vv, low_vh = AMPLITUDE_MIN_MEDIANS_DB
    high_medians = vv > low_vv and vh > low_vh
    no_dark_tail = float(np.percentile(finite[1], 5)) > AMPLITUDE_MIN_VH_P5_DB
    return vv - vh < AMPLITUDE_MAX_RATIO_DB and (high_medians or no_dark_tail)


def sentinel_share(values: np.ndarray) -> tuple[float, float]:
    """``(value, share)``: the :data:`SENTINEL_NODATA` value most frequent in ``values`` (C, N) and the
    share of pixels where a band holds it."""
    if values.shape[-1] == 0:
        return SENTINEL_NODATA[0], 0.0
    shares = [float((values == value).any(axis=0).mean()) for value in SENTINEL_NODATA]
    best = int(np.argmax(shares))
    return SENTINEL_NODATA[best], shares[best]


def check_sentinel_nodata(values: np.ndarray, source: str, fix: str) -> None:
    """Refuse raw ``(C, N)`` values of a file that declares no nodata but holds a sentinel
    (-9999, -32768, 65535) on more than :data:`MAX_SENTINEL_SHARE` of its pixels.

    Raises:
        BadTileError: Naming ``source``, the value, its share and ``fix`` (formatted with ``value``).
    """
    value, share = sentinel_share(values)
    if share > MAX_SENTINEL_SHARE:
        msg = (
            f"{source}: {100 * share:.1f}% of the sampled pixels are {value:g} and the file declares no "
            f"nodata; they would be read as data. {fix.format(value=f'{value:g}')}"
        )
        raise BadTileError(msg)


def check_negative_reflectance(
    reflectance: np.ndarray, source: str, bands: Sequence[str] | None, fix: str
) -> None:
    """Refuse ``(C, N)`` reflectance with more than :data:`MAX_NEGATIVE_SHARE` of a band below
    :data:`NEGATIVE_REFLECTANCE`: negative beyond noise (signed data, an undeclared nodata).

    Raises:
        BadTileError: Naming ``source``, the band, the share and ``fix``.
    """
    if reflectance.shape[-1] == 0:
        return
    shares = (reflectance < NEGATIVE_REFLECTANCE).mean(axis=-1)
    worst = int(np.argmax(shares))
    if float(shares[worst]) > MAX_NEGATIVE_SHARE:
        band = f" band {bands[worst]}" if bands is not None and len(bands) == len(shares) else ""
        msg = (
            f"{source}{band}: {100 * float(shares[worst]):.0f}% of the sampled pixels are below "
            f"{NEGATIVE_REFLECTANCE:g} reflectance (median {float(np.median(reflectance[worst])):.4g}); "
            f"that is not noise: {fix}"
        )
        raise BadTileError(msg)


def power_to_db(sar: np.ndarray) -> np.ndarray:
    """``10 * log10(sar)`` as float32, NaN where the power is not positive (nodata)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sar > 0, 10 * np.log10(sar), np.nan).astype(np.float32)


def check_sar_db(db: np.ndarray, source: str, fix: str = SAR_FIX) -> None:
    """Refuse backscatter whose median (finite pixels, all bands) is outside ``SAR_DB_MEDIAN_RANGE``.

    Raises:
        BadTileError: Naming ``source`` (file and bands), the median and ``fix``.
    """
    finite = db[np.isfinite(db)]
    if finite.size:
        median = float(np.median(finite))
        low, high = SAR_DB_MEDIAN_RANGE
        if not low <= median <= high:
            msg = (
                f"{source}: Sentinel-1 median {median:.3g} is neither backscatter in dB "
                f"(median in [{low:g}, {high:g}]) nor linear power (non-negative, median < 1); {fix}"
            )
            raise BadTileError(msg)


def sar_to_db(sar: np.ndarray, source: str) -> np.ndarray:
    """Return backscatter in dB, converting linear power (detected, logged) with ``10 * log10``.

    Args:
        sar: float (2, H, W) VV/VH, dB or linear power, NaN = nodata.
        source: File (or tile) named in the log line and errors.

    Returns:
        float32 (2, H, W) in dB, NaN where the input was nodata or non-positive power.

    Raises:
        BadTileError: If the median is outside ``SAR_DB_MEDIAN_RANGE`` after conversion (e.g.
            amplitude DN or a wrong band), naming ``source``.
    """
    sar = sar.astype(np.float32, copy=False)
    if is_linear_power(sar):
        logger.info("%s: Sentinel-1 looks like linear power; converting to dB (10*log10)", source)
        sar = power_to_db(sar)
    check_sar_db(sar, source)
    return sar


def looks_like_dn(values: np.ndarray) -> bool:
    """Whether finite optical values are digital numbers (99th percentile above ``MAX_REFLECTANCE_P99``)."""
    finite = values[np.isfinite(values)]
    return finite.size > 0 and float(np.percentile(finite, 99)) > MAX_REFLECTANCE_P99


def check_reflectance(
    reflectance: np.ndarray,
    scale: float,
    source: str,
    bands: Sequence[str] | None = None,
    dn_fix: str = DN_FIX,
    reflectance_fix: str = REFLECTANCE_FIX,
) -> None:
    """Refuse (C, ...) reflectance that looks like DN (99th percentile) or like reflectance scaled twice.

    Args:
        reflectance: (C, ...) values after dividing by ``scale``, NaN = nodata.
        scale: The divisor used, named in the message.
        source: File (or tile) named in the message.
        bands: Band names of the C rows: the message names the band at fault.
        dn_fix: Fix when the values look like DN.
        reflectance_fix: Fix when they look like reflectance divided once too often.

    Raises:
        BadTileError: Naming ``source``, the band and the fix.
    """
    finite = reflectance[np.isfinite(reflectance)]
    if not finite.size:
        return
    p99, top = float(np.percentile(finite, 99)), float(finite.max())
    if p99 > MAX_REFLECTANCE_P99:
        msg = (
            f"{source}{_worst_band(reflectance, bands)}: Sentinel-2 reflectance 99th percentile is {p99:.4g} "
            f"after dividing by scale={scale:g}; the values look like DN: {dn_fix}"
        )
        raise BadTileError(msg)
    if 0 < top < MIN_REFLECTANCE_MAX:
        msg = (
            f"{source}: Sentinel-2 reflectance is at most {top:.3g} after dividing by "
            f"scale={scale:g}; the values look like reflectance already: {reflectance_fix}"
        )
        raise BadTileError(msg)


def dn_to_reflectance(dn: np.ndarray, scale: float, offset: float, source: str) -> np.ndarray:
    """Return ``(dn + offset) / scale`` as float32 reflectance, checking that the result is plausible.

    Args:
        dn: (C, H, W) digital numbers (or reflectance when ``scale`` is 1), NaN = nodata.
        scale: Divisor, 10000 for Sentinel-2 L1C/L2A DN.
        offset: Added before scaling (-1000 for L2A products of baseline 04.00 and later).
        source: File (or tile) named in errors.

    Raises:
        BadTileError: If the 99th percentile exceeds ``MAX_REFLECTANCE_P99`` (the data are DN but
            ``scale`` is too small) or the maximum is below ``MIN_REFLECTANCE_MAX`` (the data are
            reflectance already), naming ``source`` and the scale to check.
    """
    reflectance = ((dn.astype(np.float32, copy=False) + offset) / scale).astype(np.float32)
    check_reflectance(reflectance, scale, source)
    return reflectance


def _worst_band(values: np.ndarray, bands: Sequence[str] | None) -> str:
    """``" band B08"``: the band of ``values`` (C, ...) with the highest 99th percentile (empty without names)."""
    if bands is None or len(bands) != len(values):
        return ""
    p99 = [
        float(np.percentile(band[np.isfinite(band)], 99)) if np.isfinite(band).any() else -np.inf
        for band in values
    ]
    return f" band {bands[int(np.argmax(p99))]}"
