"""Lightning callbacks for Stage 3 training runs."""

import axion_terratorch.models  # noqa: F401 - registers the plugin's models (docs/plugin.md)
from axion_terratorch.callbacks.example_images import ExampleImages
from axion_terratorch.callbacks.last_checkpoint import LastCheckpoint
from axion_terratorch.callbacks.nonfinite import NonFiniteGuard, NonFiniteTrainingError
from axion_terratorch.callbacks.progress import StepProgressBar, step_progress_bar
from axion_terratorch.callbacks.sar_ablation import SARAblation, ablate_sar
from axion_terratorch.callbacks.scene_writer import SceneWriter

__all__ = [
    "ExampleImages",
    "LastCheckpoint",
    "NonFiniteGuard",
    "NonFiniteTrainingError",
    "SARAblation",
    "SceneWriter",
    "StepProgressBar",
    "ablate_sar",
    "step_progress_bar",
]
