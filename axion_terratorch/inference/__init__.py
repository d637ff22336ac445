"""Grounding whole scenes: tiled GeoTIFF grounding with flat memory, the quality check of each
output, its JSON sidecar, and scene lists on Lightning's predict loop.

Evaluation reports are in :mod:`axion_terratorch.evaluation`, the checkpoint lifecycle (load,
select, export) in :mod:`axion_terratorch.checkpoints`; ``load_model`` is re-exported here for
``predict_scene``'s users (``docs/plugin.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from axion_terratorch.lazy import lazy_attributes

__all__ = [
    "GroundingOptions",
    "QualityCheck",
    "Verdict",
    "check_tiles",
    "ground_scene",
    "load_model",
    "predict_scene",
    "predict_scenes",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "GroundingOptions": "axion_terratorch.inference.scene",
        "QualityCheck": "axion_terratorch.inference.quality",
        "Verdict": "axion_terratorch.inference.quality",
        "check_tiles": "axion_terratorch.inference.quality",
        "ground_scene": "axion_terratorch.inference.scene",
        "load_model": "axion_terratorch.checkpoints.loading",
        "predict_scene": "axion_terratorch.inference.pipeline",
        "predict_scenes": "axion_terratorch.inference.scenes",
    },
)

if TYPE_CHECKING:
    from axion_terratorch.checkpoints.loading import load_model
    from axion_terratorch.inference.pipeline import predict_scene
    from axion_terratorch.inference.quality import QualityCheck, Verdict, check_tiles
    from axion_terratorch.inference.scene import GroundingOptions, ground_scene
    from axion_terratorch.inference.scenes import predict_scenes
