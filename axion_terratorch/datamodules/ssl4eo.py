"""Data module over torchgeo's SSL4EO-S12, as Stage 3 pairs of one location and season."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from torchgeo.datasets import SSL4EOS12

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split, ratio_split
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.ssl4eo import SEASONS, SSL4EOS12Pairs


def _location(name: str) -> str:
    return name.split("_")[0]


class SSL4EOS12PairDataModule(PairedTileDataModule):
    """SSL4EO-S12 S1/S2 pairs, split by location (all seasons of a location in one split).

    Args:
        root: SSL4EO-S12 folder with ``s1`` and ``s2a`` (or ``s2c``) extracted.
        s2_level: ``s2a`` (L2A) or ``s2c`` (L1C).
        locations: Locations to use (default: every folder in ``root/s1``).
        seasons: Seasons stored per location and sensor: 4 in SSL4EO-S12, 2 in its example data.
        val_ratio: Fraction of locations for validation.
        test_ratio: Fraction of locations for test.
        split_seed: Seed of the location split.
        tiles: Bands, units, tile size (SSL4EO-S12 tiles are 264 px), Stage 2 input, bad tiles.
        batch_size: Tiles per batch.
        num_workers: DataLoader worker processes.
        augment: Flip and rotate training batches.
        max_samples: Cap on training tiles.
        max_eval_samples: Cap on validation and test tiles.
        download: Download SSL4EO-S12's ``s1`` and ``s2_level`` archives into ``root`` first, if they
            are not there (torchgeo's ``download=True``; several hundred GB). Runs once, in
            ``prepare_data``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        s2_level: Literal["s2a", "s2c"] = "s2a",
        locations: Sequence[int] | None = None,
        seasons: int = SEASONS,
        val_ratio: float = 0.1,
        test_ratio: float = 0.1,
        split_seed: int = 0,
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
        self.download = download
        self.s2_level = s2_level
        self.locations = locations
        self.seasons = seasons
        self.ratios = (val_ratio, test_ratio)
        self.split_seed = split_seed

    def prepare_data(self) -> None:
        """Download SSL4EO-S12 into ``root`` when ``download`` is set (one process, before ``setup``)."""
        if self.download:
            for sensor in ("s1", self.s2_level):
                SSL4EOS12(root=self.root, split=sensor, seasons=self.seasons, download=True)

    def build_dataset(self, split: Split) -> SSL4EOS12Pairs:
        """The tiles of the locations of ``split``."""
        dataset = SSL4EOS12Pairs(
            self.root, self.tiles, self.s2_level, self.locations, self.seasons, random_crop=split == "train"
        )
        dataset.keep(ratio_split(dataset.names, *self.ratios, self.split_seed, group=_location)[split])
        return dataset
