"""Data module over torchgeo's SSL4EO-S12, as Stage 3 pairs of one location and season."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

from torchgeo.datasets import SSL4EOS12

from axion_terratorch.datamodules.base import NamedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.ssl4eo import SEASONS, SSL4EOS12Pairs


def _location(name: str) -> str:
    return name.split("_")[0]


class SSL4EOS12PairDataModule(NamedTileDataModule):
    """SSL4EO-S12 S1/S2 pairs, split by location (all seasons of a location in one split).

    Tiles are named ``<location>_<season>`` (``0000123_0``). The split is ``split_files`` if given,
    else a seeded ratio of the locations (``val_ratio``, ``test_ratio``, ``split_seed``).

    Args:
        root: SSL4EO-S12 folder with ``s1`` and ``s2a`` (or ``s2c``) extracted.
        s2_level: ``s2a`` (L2A) or ``s2c`` (L1C).
        locations: Locations to use (default: every folder in ``root/s1``).
        seasons: Seasons stored per location and sensor: 4 in SSL4EO-S12, 2 in its example data.
        download: Download SSL4EO-S12's ``s1`` and ``s2_level`` archives into ``root`` first, if they
            are not there (torchgeo's ``download=True``; several hundred GB). Runs once, in
            ``prepare_data``.
        **kwargs: The splits (``split_files``, ``val_ratio`` ...) of :class:`NamedTileDataModule`
            and the ``tiles`` (SSL4EO-S12 tiles are 264 px), ``batch_size`` ... of
            :class:`~axion_terratorch.datamodules.PairedTileDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        s2_level: Literal["s2a", "s2c"] = "s2a",
        locations: Sequence[int] | None = None,
        seasons: int = SEASONS,
        download: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(
            root=root, download=download, s2_level=s2_level, locations=locations, seasons=seasons
        )

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
        if not self.splits:
            self.assign_splits(dataset.names, group=_location)
        dataset.keep(self.splits[split])
        return dataset
