"""axion-terratorch: Stage 3 SAR grounding with TerraMind, as a TerraTorch plugin.

Importing the package registers its models in terratorch's registries (see
:mod:`axion_terratorch.models.registration`).
"""

from axion_terratorch import losses, metrics, models
from axion_terratorch.tasks import SARGroundingTask

__version__ = "0.1.0"

__all__ = ["SARGroundingTask", "__version__", "losses", "metrics", "models"]
