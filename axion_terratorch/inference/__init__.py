"""Inference on real scenes: tiled GeoTIFF grounding with sidecars, evaluation reports, adapter export."""

from axion_terratorch.inference.checkpoint import CheckpointError, load_model
from axion_terratorch.inference.geotiff import SceneInputError, SceneInputs
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.scene import GroundingOptions, ground_scene
from axion_terratorch.inference.sidecar import QUALITY_THRESHOLD, quality_flag
from axion_terratorch.inference.tiling import TileLayout

__all__ = [
    "QUALITY_THRESHOLD",
    "CheckpointError",
    "GroundingOptions",
    "SceneInputError",
    "SceneInputs",
    "TileLayout",
    "ground_scene",
    "load_model",
    "predict_scene",
    "quality_flag",
]
