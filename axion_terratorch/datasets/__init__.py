"""Datasets of paired Sentinel-1 / Sentinel-2 tiles for Stage 3 grounding."""

from axion_terratorch.datasets.synthetic import SyntheticGroundingDataset

__all__ = ["SyntheticGroundingDataset"]
