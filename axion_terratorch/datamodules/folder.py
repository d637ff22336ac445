"""Data module over a folder of Sentinel-1 / Sentinel-2 GeoTIFF pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split, assign_splits
from axion_terratorch.datasets.folder import GeoTiffPairDataset, find_tiles
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import report_bad_tiles

logger = logging.getLogger(__name__)


class GeoTiffPairDataModule(PairedTileDataModule):
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
        split_files: ``{train: list.txt, val: ..., test: ...}``: tile names per split.
        val_ratio: Fraction of tiles for validation without ``split_files``.
        test_ratio: Fraction of tiles for test without ``split_files``.
        split_seed: Seed of the ratio split.
        tiles: Bands, units, tile size, Stage 2 input and bad-tile policy.
        batch_size: Tiles per batch.
        num_workers: DataLoader worker processes.
        augment: Flip and rotate training batches.
        max_samples: Cap on training tiles.
        max_eval_samples: Cap on validation and test tiles.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        s1_pattern: str = r"(?P<tile>.+)_S1\.tiff?",
        s2_pattern: str = r"(?P<tile>.+)_S2\.tiff?",
        s1_bands: Sequence[str] | None = None,
        s2_bands: Sequence[str] | None = None,
        reproject_s1: bool = False,
        split_files: dict[Split, str] | None = None,
        val_ratio: float = 0.1,
        test_ratio: float = 0.1,
        split_seed: int = 0,
        tiles: TileOptions = TileOptions(),  # noqa: B008 - frozen dataclass
        batch_size: int = 8,
        num_workers: int = 0,
        augment: bool = True,
        max_samples: int | None = None,
        max_eval_samples: int | None = None,
    ) -> None:
        super().__init__(tiles, batch_size, num_workers, augment, max_samples, max_eval_samples)
        self.root = root
        self.s1_bands = s1_bands
        self.s2_bands = s2_bands
        self.reproject_s1 = reproject_s1
        found, problems = find_tiles(root, s1_pattern, s2_pattern)
        report_bad_tiles(problems, tiles.on_bad_tile, f"{type(self).__name__}(root={root})")
        if not found:
            msg = f"no S1/S2 pair under root={root} matches s1_pattern={s1_pattern!r} and s2_pattern={s2_pattern!r}"
            raise FileNotFoundError(msg)
        self.found = {tile.name: tile for tile in found}
        names = sorted(self.found)
        self.splits = assign_splits(names, {}, split_files, val_ratio, test_ratio, split_seed)

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
