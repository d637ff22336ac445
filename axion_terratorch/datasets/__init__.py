"""Datasets of paired Sentinel-1 / Sentinel-2 tiles for Stage 3 grounding."""

from axion_terratorch.datasets.bigearthnet import BigEarthNetPairs, BigEarthNetV2Pairs
from axion_terratorch.datasets.degradation import stage2_proxy
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.folder import GeoTiffPairDataset, TileFiles, find_tiles
from axion_terratorch.datasets.npz import NpzTileDataset
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.sen12ms import SEN12MSPairs
from axion_terratorch.datasets.sen12mscr import SEN12MSCRPairs
from axion_terratorch.datasets.ssl4eo import SSL4EOS12Pairs
from axion_terratorch.datasets.stage2_errors import ERROR_KINDS, ErrorSequence, Stage2Errors, StructuralErrors
from axion_terratorch.datasets.synthetic import SyntheticGroundingDataset
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair

__all__ = [
    "ERROR_KINDS",
    "BadTileError",
    "BigEarthNetPairs",
    "BigEarthNetV2Pairs",
    "ErrorSequence",
    "GeoTiffPairDataset",
    "NpzTileDataset",
    "PairedTileDataset",
    "RawPair",
    "SEN12MSCRPairs",
    "SEN12MSPairs",
    "SSL4EOS12Pairs",
    "Stage2Errors",
    "StructuralErrors",
    "SyntheticGroundingDataset",
    "TileFiles",
    "TileOptions",
    "find_tiles",
    "stage2_proxy",
]
