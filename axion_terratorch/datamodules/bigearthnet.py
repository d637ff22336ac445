"""Data module over torchgeo's BigEarthNet (v1 or v2), as Stage 3 pairs."""

from __future__ import annotations

import os
from typing import Literal

from torchgeo.datasets import BigEarthNet, BigEarthNetV2

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.bigearthnet import BigEarthNetPairs, BigEarthNetV2Pairs
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import PairedTileDataset


class BigEarthNetPairDataModule(PairedTileDataModule):
    """BigEarthNet S1/S2 pairs with the dataset's own train/val/test splits.

    Args:
        root: BigEarthNet folder in torchgeo's layout (v1: ``BigEarthNet-S1-v1.0``,
            ``BigEarthNet-v1.0`` and ``bigearthnet-{train,val,test}.csv``; v2: see
            :class:`~axion_terratorch.datasets.BigEarthNetV2Pairs`).
        version: ``v1`` (torchgeo ``BigEarthNet``) or ``v2`` (``BigEarthNetV2``).
        tiles: Bands, units, tile size (BigEarthNet tiles are 120 px), Stage 2 input, bad tiles.
        batch_size: Tiles per batch.
        num_workers: DataLoader worker processes.
        augment: Flip and rotate training batches.
        max_samples: Cap on training tiles.
        max_eval_samples: Cap on validation and test tiles.
        download: Download and extract BigEarthNet into ``root`` first, if it is not there (torchgeo's
            ``download=True``: v1 is about 66 GB, v2 about 59 GB). Runs once, in ``prepare_data``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        version: Literal["v1", "v2"] = "v1",
        tiles: TileOptions = TileOptions(),  # noqa: B008 - frozen dataclass
        batch_size: int = 8,
        num_workers: int = 0,
        augment: bool = True,
        max_samples: int | None = None,
        max_eval_samples: int | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(tiles, batch_size, num_workers, augment, max_samples, max_eval_samples)
        self.root = root
        self.version = version
        self.download = download

    def prepare_data(self) -> None:
        """Download BigEarthNet into ``root`` when ``download`` is set (one process, before ``setup``)."""
        if self.download:
            dataset_class = BigEarthNet if self.version == "v1" else BigEarthNetV2
            for split in ("train", "val", "test"):
                dataset_class(root=self.root, split=split, bands="all", download=True)

    def build_dataset(self, split: Split) -> PairedTileDataset:
        """BigEarthNet's ``split``."""
        dataset_class = BigEarthNetPairs if self.version == "v1" else BigEarthNetV2Pairs
        return dataset_class(self.root, split, self.tiles, random_crop=split == "train")
