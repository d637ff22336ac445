"""axion-terratorch: Stage 3 SAR grounding with TerraMind, as a TerraTorch plugin.

Public names (``SARGroundingTask``, ``losses``, ``metrics``, ``models``) are imported on first use
(PEP 562), so ``import axion_terratorch`` and the ``axion-stage3`` command line start without torch
or terratorch. Using any of them, or importing ``axion_terratorch.models``, ``.tasks``,
``.datamodules`` or ``.callbacks``, registers the plugin's models in terratorch's registries (see
:mod:`axion_terratorch.models.registration` and ``docs/plugin.md``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from axion_terratorch.lazy import lazy_attributes

__version__ = "0.1.0"

__all__ = ["SARGroundingTask", "__version__", "losses", "metrics", "models"]

_lazy_getattr, __dir__ = lazy_attributes(
    __name__,
    {
        "SARGroundingTask": "axion_terratorch.tasks",
        "losses": "axion_terratorch.losses",
        "metrics": "axion_terratorch.metrics",
        "models": "axion_terratorch.models",
    },
)


def __getattr__(name: str) -> Any:
    """Import a public name on first use; any of them registers the models (the plugin contract)."""
    value = _lazy_getattr(name)
    importlib.import_module("axion_terratorch.models")
    return value


if TYPE_CHECKING:
    from axion_terratorch import losses, metrics, models
    from axion_terratorch.tasks import SARGroundingTask
