"""``check_grounded_scene``: the quality check of a grounded GeoTIFF made by any tool, without a model
(``axion-stage3 check``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import rasterio

from axion_terratorch.constants import DEFAULT_BANDS, OpticalUnits, PathLike
from axion_terratorch.datasets.scene_inputs import SceneInputs, companion_raster, read_window
from axion_terratorch.datasets.units import S1Units
from axion_terratorch.inference.quality import QualityCheck
from axion_terratorch.inference.scene import scene_blocks
from axion_terratorch.inference.sidecar import build_sidecar
from axion_terratorch.inference.statistics import SceneStatistics, optional_lpips


def check_grounded_scene(
    s1: PathLike,
    optical: PathLike,
    grounded: PathLike,
    bands: Sequence[str] = DEFAULT_BANDS,
    optical_bands: Sequence[str] | None = None,
    optical_units: OpticalUnits = "auto",
    grounded_units: OpticalUnits = "auto",
    check: QualityCheck | None = None,
    lpips: bool | None = None,
    max_scored_blocks: int = 64,
    device: str = "cpu",
    s1_units: S1Units = "auto",
    optical_nodata: float | None = None,
) -> dict[str, object]:
    """Score ``grounded`` against its SAR and its input and judge it; the report has ``predict``'s sidecar fields.

    Args:
        s1: Sentinel-1 GRD GeoTIFF, VV and VH in dB or linear power.
        optical: The optical input the grounded image was made from.
        grounded: The grounded optical GeoTIFF, on the same grid.
        bands: Bands compared (B02, B03, B04 needed); both optical files must hold them.
        optical_bands: Names of the input's bands in file order (when not in its descriptions).
        optical_units: Units of the input: ``auto`` (judged from the values, docs/inference.md), ``dn`` or ``reflectance``.
        grounded_units: The same for the grounded file.
        check: Thresholds of the verdict (default :class:`QualityCheck`).
        lpips: Report the LPIPS change: ``None`` when its backbone weights are on this machine
            (no download), ``True`` always, ``False`` never (:func:`~axion_terratorch.inference.statistics.optional_lpips`).
        max_scored_blocks: At most this many 256 px blocks, spread over the scene, are scored.
        device: Torch device of the scores.
        s1_units: Sentinel-1 units (:class:`~axion_terratorch.datasets.scene_inputs.SceneInputs`).
        optical_nodata: Nodata value of an optical input that declares none.

    Raises:
        SceneInputError: If a file is unreadable, lacks a band, is off the grid or holds no valid
            pixel; the message names the file.
    """
    scene = SceneInputs(s1, optical, bands, optical_bands, optical_units, s1_units, optical_nodata)
    output = companion_raster(scene, grounded, None, grounded_units)
    lpips_model, note = optional_lpips(scene.bands, lpips)
    statistics = SceneStatistics(scene.bands, lpips_model, device)
    blocks = list(scene_blocks(scene.height, scene.width))
    every = math.ceil(len(blocks) / max_scored_blocks)
    with scene.open() as reader, rasterio.open(output.path) as src:
        for index, block in enumerate(blocks):
            sar, optical_values, sar_valid, opt_valid = reader.read(block)
            values, out_valid = read_window(src, output, block)
            statistics.update(
                values, optical_values, sar, sar_valid & opt_valid & out_valid, index % every == 0
            )
    return build_sidecar(grounded, scene, statistics, check=check, lpips_note=note)
