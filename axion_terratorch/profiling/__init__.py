"""Measure what training costs: tensor memory meters and the memory budget of a configured task."""

from axion_terratorch.profiling.tensors import PeakTensorMeter, SavedTensorMeter, storage_bytes

__all__ = ["PeakTensorMeter", "SavedTensorMeter", "storage_bytes"]
