"""Models of the plugin; importing this package registers them in terratorch's registries."""

from axion_terratorch.models.baselines import SARGuidedFilter
from axion_terratorch.models.generative_grounding import TerraMindGenerativeGrounding
from axion_terratorch.models.lora import LoraSettings, count_parameters
from axion_terratorch.models.registration import REGISTERED_NAMES, register_models
from axion_terratorch.models.residual_grounding import TerraMindResidualGrounding
from axion_terratorch.models.sar_alignment import SARRegistration
from axion_terratorch.models.sar_fill import SARFill
from axion_terratorch.models.standardize import TerraMindStandardizer
from axion_terratorch.models.terramind_lora import TerraMindLoRABackbone

__all__ = [
    "REGISTERED_NAMES",
    "LoraSettings",
    "SARFill",
    "SARGuidedFilter",
    "SARRegistration",
    "TerraMindGenerativeGrounding",
    "TerraMindLoRABackbone",
    "TerraMindResidualGrounding",
    "TerraMindStandardizer",
    "count_parameters",
    "register_models",
]
