"""Register the plugin's models in terratorch's registries.

Importing this module (``import axion_terratorch.models`` does, as does the first use of a public name
of ``axion_terratorch``) adds, once per process:

* ``BACKBONE_REGISTRY``: ``axion_terramind_v1_{tiny,small,base,large}_lora``
  (:class:`TerraMindLoRABackbone`), for terratorch's own tasks and ``EncoderDecoderFactory``.
* ``FULL_MODEL_REGISTRY``: ``axion_terramind_v1_{tiny,small,base,large}_residual_grounding``
  (:class:`TerraMindResidualGrounding`) and
  ``axion_terramind_v1_{tiny,small,base,large}_generative_grounding``
  (:class:`TerraMindGenerativeGrounding`), for ``FullModelFactory`` or ``FULL_MODEL_REGISTRY.build``.

The module is also the ``terratorch.plugins`` entry point of the package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, get_args

from torch import nn

from axion_terratorch.compat.terratorch import register_backbone, register_full_model
from axion_terratorch.models.generative_grounding import TerraMindGenerativeGrounding
from axion_terratorch.models.residual_grounding import TerraMindResidualGrounding
from axion_terratorch.models.terramind_lora import TerraMindLoRABackbone, Variant

logger = logging.getLogger(__name__)

VARIANTS: tuple[Variant, ...] = get_args(Variant)


def _builder(name: str, cls: type[nn.Module], variant: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> nn.Module:
        return cls(variant=variant, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"Build :class:`{cls.__name__}` with ``variant={variant!r}``."
    return build


def register_models() -> list[str]:
    """Register every model name (idempotent) and return the names."""
    names = []
    for variant in VARIANTS:
        backbone = f"axion_terramind_v1_{variant}_lora"
        full = f"axion_terramind_v1_{variant}_residual_grounding"
        generative = f"axion_terramind_v1_{variant}_generative_grounding"
        # Each keeps the first registration of a name (terratorch's own overwrites silently).
        register_backbone(_builder(backbone, TerraMindLoRABackbone, variant))
        register_full_model(_builder(full, TerraMindResidualGrounding, variant))
        register_full_model(_builder(generative, TerraMindGenerativeGrounding, variant))
        names += [backbone, full, generative]
    logger.debug("registered %s", names)
    return names


REGISTERED_NAMES: list[str] = register_models()
