"""Measure what training costs: tensor memory meters and the memory budget of a configured task.

Modules: :mod:`~axion_terratorch.profiling.task_config` builds the task of a config,
:mod:`~axion_terratorch.profiling.memory` measures one training step,
:mod:`~axion_terratorch.profiling.budget` holds the result and its table,
:mod:`~axion_terratorch.profiling.tensors` the meters the measurement uses.
"""

from axion_terratorch.profiling.budget import MemoryBudget
from axion_terratorch.profiling.memory import measure_training_memory
from axion_terratorch.profiling.task_config import build_task, load_config
from axion_terratorch.profiling.tensors import PeakTensorMeter, SavedTensorMeter, storage_bytes

__all__ = [
    "MemoryBudget",
    "PeakTensorMeter",
    "SavedTensorMeter",
    "build_task",
    "load_config",
    "measure_training_memory",
    "storage_bytes",
]
