"""Lightning data modules for Stage 3 grounding."""

import axion_terratorch.models  # noqa: F401 - registers the plugin's models (docs/plugin.md)
from axion_terratorch.datamodules.augmentation import JointFlipRotate
from axion_terratorch.datamodules.bad_tiles import BadTileReport
from axion_terratorch.datamodules.base import NamedTileDataModule, PairedTileDataModule
from axion_terratorch.datamodules.bigearthnet import BigEarthNetPairDataModule
from axion_terratorch.datamodules.folder import GeoTiffPairDataModule
from axion_terratorch.datamodules.multi_source import ConcatPairedTileDataset, MultiSourcePairDataModule
from axion_terratorch.datamodules.npz import NpzTileDataModule
from axion_terratorch.datamodules.scenes import SceneListDataModule
from axion_terratorch.datamodules.sen12ms import SEN12MSPairDataModule
from axion_terratorch.datamodules.sen12mscr import SEN12MSCRPairDataModule
from axion_terratorch.datamodules.ssl4eo import SSL4EOS12PairDataModule
from axion_terratorch.datamodules.synthetic import SyntheticGroundingDataModule, split_seed

__all__ = [
    "BadTileReport",
    "BigEarthNetPairDataModule",
    "ConcatPairedTileDataset",
    "GeoTiffPairDataModule",
    "JointFlipRotate",
    "MultiSourcePairDataModule",
    "NamedTileDataModule",
    "NpzTileDataModule",
    "PairedTileDataModule",
    "SEN12MSCRPairDataModule",
    "SEN12MSPairDataModule",
    "SSL4EOS12PairDataModule",
    "SceneListDataModule",
    "SyntheticGroundingDataModule",
    "split_seed",
]
