"""Inference on real scenes: tiled GeoTIFF grounding with sidecars, evaluation reports, adapter export."""

from axion_terratorch.inference.check import check_scene
from axion_terratorch.inference.checkpoint import CheckpointError, load_model
from axion_terratorch.inference.comparison import paired_comparison
from axion_terratorch.inference.evaluation import IdentityGrounding, build_datamodule, evaluate, summarise
from axion_terratorch.inference.export import export_checkpoint, load_export
from axion_terratorch.inference.geotiff import SceneInputError, SceneInputs
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.quality import QualityCheck, Verdict, check_tiles
from axion_terratorch.inference.report import write_report
from axion_terratorch.inference.scene import GroundingOptions, ground_scene
from axion_terratorch.inference.selection import rank_checkpoints
from axion_terratorch.inference.tiling import TileLayout

__all__ = [
    "CheckpointError",
    "GroundingOptions",
    "IdentityGrounding",
    "QualityCheck",
    "SceneInputError",
    "SceneInputs",
    "TileLayout",
    "Verdict",
    "build_datamodule",
    "check_scene",
    "check_tiles",
    "evaluate",
    "export_checkpoint",
    "ground_scene",
    "load_export",
    "load_model",
    "paired_comparison",
    "predict_scene",
    "rank_checkpoints",
    "summarise",
    "write_report",
]
