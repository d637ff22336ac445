"""Data module over torchgeo's BigEarthNet (v1 or v2), as Stage 3 pairs."""

from __future__ import annotations

import os
from typing import Any, Literal

from torchgeo.datasets import BigEarthNet, BigEarthNetV2

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.bigearthnet import BigEarthNetPairs, BigEarthNetV2Pairs
from axion_terratorch.datasets.tiles import PairedTileDataset


class BigEarthNetPairDataModule(PairedTileDataModule):
    """BigEarthNet S1/S2 pairs with the dataset's own train/val/test splits.

    Args:
        root: BigEarthNet folder in torchgeo's layout (v1: ``BigEarthNet-S1-v1.0``,
            ``BigEarthNet-v1.0`` and ``bigearthnet-{train,val,test}.csv``; v2: see
            :class:`~axion_terratorch.datasets.BigEarthNetV2Pairs`).
        version: ``v1`` (torchgeo ``BigEarthNet``) or ``v2`` (``BigEarthNetV2``).
        download: Download and extract BigEarthNet into ``root`` first, if it is not there (torchgeo's
            ``download=True``: v1 is about 66 GB, v2 about 59 GB). Runs once, in ``prepare_data``.
        **kwargs: The ``tiles`` (BigEarthNet tiles are 120 px), ``batch_size`` ... of
            :class:`~axion_terratorch.datamodules.PairedTileDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        version: Literal["v1", "v2"] = "v1",
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(root=root, version=version, download=download)

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
