"""Lightning callbacks for Stage 3 training runs."""

from axion_terratorch.callbacks.example_images import ExampleImages
from axion_terratorch.callbacks.nonfinite import NonFiniteGuard, NonFiniteTrainingError

__all__ = ["ExampleImages", "NonFiniteGuard", "NonFiniteTrainingError"]
