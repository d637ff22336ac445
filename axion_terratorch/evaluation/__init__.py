"""Evaluation: score a grounding model over a data module, judge a grounded scene made by any tool,
and write the reports (per-tile rows, summary, panels, a paired comparison of two runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axion_terratorch.lazy import lazy_attributes

__all__ = [
    "IdentityGrounding",
    "build_datamodule",
    "check_grounded_scene",
    "evaluate",
    "iterate_batches",
    "paired_comparison",
    "score_tiles",
    "summarise",
    "write_report",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "IdentityGrounding": "axion_terratorch.evaluation.loop",
        "build_datamodule": "axion_terratorch.evaluation.loop",
        "check_grounded_scene": "axion_terratorch.evaluation.grounded_scene",
        "evaluate": "axion_terratorch.evaluation.loop",
        "iterate_batches": "axion_terratorch.evaluation.loop",
        "paired_comparison": "axion_terratorch.evaluation.comparison",
        "score_tiles": "axion_terratorch.evaluation.tile_scores",
        "summarise": "axion_terratorch.evaluation.loop",
        "write_report": "axion_terratorch.evaluation.report",
    },
)

if TYPE_CHECKING:
    from axion_terratorch.evaluation.comparison import paired_comparison
    from axion_terratorch.evaluation.grounded_scene import check_grounded_scene
    from axion_terratorch.evaluation.loop import (
        IdentityGrounding,
        build_datamodule,
        evaluate,
        iterate_batches,
        summarise,
    )
    from axion_terratorch.evaluation.report import write_report
    from axion_terratorch.evaluation.tile_scores import score_tiles
