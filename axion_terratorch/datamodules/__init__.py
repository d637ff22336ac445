"""Lightning data modules for Stage 3 grounding."""

from axion_terratorch.datamodules.synthetic import SyntheticGroundingDataModule, split_seed

__all__ = ["SyntheticGroundingDataModule", "split_seed"]
