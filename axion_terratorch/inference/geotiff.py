"""GeoTIFF inputs of scene grounding: moved to :mod:`axion_terratorch.datasets.scene_inputs` (the
pair and its windowed reads), :mod:`~axion_terratorch.datasets.scene_bands` (bands, grids, errors)
and :mod:`~axion_terratorch.datasets.scene_units` (units); re-exported here."""

from axion_terratorch.constants import OpticalUnits
from axion_terratorch.datasets.scene_bands import OPTICAL_NODATA, RasterBands, SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs, SceneReader, companion_raster, read_window
from axion_terratorch.datasets.scene_units import SAMPLE_SIDE, SAMPLE_WINDOWS, S1Units

__all__ = [
    "OPTICAL_NODATA",
    "SAMPLE_SIDE",
    "SAMPLE_WINDOWS",
    "OpticalUnits",
    "RasterBands",
    "S1Units",
    "SceneInputError",
    "SceneInputs",
    "SceneReader",
    "companion_raster",
    "read_window",
]
