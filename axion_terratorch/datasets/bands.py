"""Band names as files and products spell them, mapped to the package's names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from axion_terratorch.constants import S1GRD_BANDS
from axion_terratorch.datasets.errors import BadTileError

_S2_BAND = re.compile(r"B0?(\d{1,2}A?)", re.IGNORECASE)


def normalize_band(name: str) -> str | None:
    """Return the canonical name of a band (``"b2"``, ``"B2"``, ``"B02"`` -> ``"B02"``; ``"vv"`` -> ``"VV"``).

    Returns ``None`` for names that are neither a Sentinel-2 band nor a Sentinel-1 polarisation
    (e.g. a free-text GeoTIFF description such as ``"Blue"``).
    """
    name = name.strip()
    if name.upper() in S1GRD_BANDS:
        return name.upper()
    match = _S2_BAND.fullmatch(name)
    if match is None:
        return None
    number = match.group(1).upper()
    return f"B{number}" if number.endswith("A") else f"B{int(number):02d}"


def band_positions(available: Sequence[str], wanted: Sequence[str], source: str) -> list[int]:
    """Positions of ``wanted`` bands in ``available`` (both canonical names).

    Raises:
        BadTileError: If a wanted band is missing; the message names ``source`` and both band lists.
    """
    missing = [band for band in wanted if band not in available]
    if missing:
        msg = f"{source}: bands {missing} are missing; it has {list(available)}"
        raise BadTileError(msg)
    return [list(available).index(band) for band in wanted]
