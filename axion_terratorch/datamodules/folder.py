"""Data module over a folder of Sentinel-1 / Sentinel-2 GeoTIFF pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from axion_terratorch.datamodules.base import NamedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.folder import GeoTiffPairDataset, find_tiles
from axion_terratorch.datasets.tiles import report_bad_tiles

logger = logging.getLogger(__name__)


class GeoTiffPairDataModule(NamedTileDataModule):
    """GeoTIFF pairs under ``root``, matched by file-name patterns (layouts in ``docs/data.md``).

    Files are found once, tiles with a missing partner or ambiguous files are reported (or skipped),
    and the tiles are split by ``split_files`` if given, else by a seeded ratio.

    Args:
        root: Folder searched recursively.
        s1_pattern: Regular expression matching a whole S1 file name, with a group ``tile`` and,
            for one file per polarisation, a group ``band`` (``VV``/``VH``).
        s2_pattern: The same for S2 files (``band``: ``B02``, ``B2``, ``B8A`` ...).
        s1_bands: Band names of multi-band S1 files (default: descriptions, else ``[VV, VH]``).
        s2_bands: Band names of multi-band S2 files (default: GeoTIFF band descriptions).
        reproject_s1: Resample S1 onto the S2 grid when they differ (else such tiles are bad).
        **kwargs: The splits (``split_files``, ``val_ratio`` ...) of :class:`NamedTileDataModule`
            and the ``tiles``, ``batch_size`` ... of :class:`PairedTileDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        s1_pattern: str = r"(?P<tile>.+)_S1\.tiff?",
        s2_pattern: str = r"(?P<tile>.+)_S2\.tiff?",
        s1_bands: Sequence[str] | None = None,
        s2_bands: Sequence[str] | None = None,
        reproject_s1: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(root=root, s1_bands=s1_bands, s2_bands=s2_bands, reproject_s1=reproject_s1)
        found, problems = find_tiles(root, s1_pattern, s2_pattern)
        report_bad_tiles(problems, self.tiles.on_bad_tile, f"{type(self).__name__}(root={root})")
        if not found:
            msg = f"no S1/S2 pair under root={root} matches s1_pattern={s1_pattern!r} and s2_pattern={s2_pattern!r}"
            raise FileNotFoundError(msg)
        self.found = {tile.name: tile for tile in found}
        self.assign_splits(list(self.found))

    def build_dataset(self, split: Split) -> GeoTiffPairDataset:
        """The GeoTIFF pairs of ``split``."""
        return GeoTiffPairDataset(
            [self.found[name] for name in self.splits[split]],
            self.tiles,
            s1_bands=self.s1_bands,
            s2_bands=self.s2_bands,
            reproject_s1=self.reproject_s1,
            random_crop=split == "train",
        )
