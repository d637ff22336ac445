"""Inference on real scenes: tiled GeoTIFF grounding with sidecars, evaluation reports, adapter export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axion_terratorch.lazy import lazy_attributes

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
    "predict_scenes",
    "rank_checkpoints",
    "summarise",
    "write_report",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "CheckpointError": "axion_terratorch.checkpoints.loading",
        "GroundingOptions": "axion_terratorch.inference.scene",
        "IdentityGrounding": "axion_terratorch.inference.evaluation",
        "QualityCheck": "axion_terratorch.inference.quality",
        "SceneInputError": "axion_terratorch.datasets.scene_bands",
        "SceneInputs": "axion_terratorch.datasets.scene_inputs",
        "TileLayout": "axion_terratorch.datasets.tiling",
        "Verdict": "axion_terratorch.inference.quality",
        "build_datamodule": "axion_terratorch.inference.evaluation",
        "check_scene": "axion_terratorch.inference.check",
        "check_tiles": "axion_terratorch.inference.quality",
        "evaluate": "axion_terratorch.inference.evaluation",
        "export_checkpoint": "axion_terratorch.checkpoints.export",
        "ground_scene": "axion_terratorch.inference.scene",
        "load_export": "axion_terratorch.checkpoints.export",
        "load_model": "axion_terratorch.checkpoints.loading",
        "paired_comparison": "axion_terratorch.inference.comparison",
        "predict_scene": "axion_terratorch.inference.pipeline",
        "predict_scenes": "axion_terratorch.inference.scenes",
        "rank_checkpoints": "axion_terratorch.checkpoints.selection",
        "summarise": "axion_terratorch.inference.evaluation",
        "write_report": "axion_terratorch.inference.report",
    },
)

if TYPE_CHECKING:
    from axion_terratorch.checkpoints.export import export_checkpoint, load_export
    from axion_terratorch.checkpoints.loading import CheckpointError, load_model
    from axion_terratorch.checkpoints.selection import rank_checkpoints
    from axion_terratorch.datasets.scene_bands import SceneInputError
    from axion_terratorch.datasets.scene_inputs import SceneInputs
    from axion_terratorch.datasets.tiling import TileLayout
    from axion_terratorch.inference.check import check_scene
    from axion_terratorch.inference.comparison import paired_comparison
    from axion_terratorch.inference.evaluation import IdentityGrounding, build_datamodule, evaluate, summarise
    from axion_terratorch.inference.pipeline import predict_scene
    from axion_terratorch.inference.quality import QualityCheck, Verdict, check_tiles
    from axion_terratorch.inference.report import write_report
    from axion_terratorch.inference.scene import GroundingOptions, ground_scene
    from axion_terratorch.inference.scenes import predict_scenes
