"""Data module over torchgeo's SEN12MS (Sentinel-2 Level-1C), as Stage 3 pairs."""

from __future__ import annotations

import os
from typing import Any

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split, ratio_split
from axion_terratorch.datasets.sen12ms import SEN12MSPairs


class SEN12MSPairDataModule(PairedTileDataModule):
    """SEN12MS S1/S2 pairs: SEN12MS's test split, its train split cut into train and val.

    The Sentinel-2 of SEN12MS is Level-1C (see :class:`~axion_terratorch.datasets.SEN12MSPairs`).

    Args:
        root: SEN12MS folder in torchgeo's layout.
        val_ratio: Fraction of SEN12MS's training tiles held out for validation (seeded).
        split_seed: Seed of that hold-out.
        **kwargs: The ``tiles`` (SEN12MS tiles are 256 px), ``batch_size`` ... of
            :class:`~axion_terratorch.datamodules.PairedTileDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        val_ratio: float = 0.1,
        split_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(root=root, val_ratio=val_ratio, split_seed=split_seed)

    def build_dataset(self, split: Split) -> SEN12MSPairs:
        """SEN12MS test tiles, or the train/val part of its training tiles."""
        source = "test" if split == "test" else "train"
        dataset = SEN12MSPairs(self.root, source, self.tiles, random_crop=split == "train")
        if split != "test":
            dataset.keep(ratio_split(dataset.names, self.val_ratio, 0.0, self.split_seed)[split])
        return dataset
