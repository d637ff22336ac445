"""Data module over the original pipeline's NPZ tiles."""

from __future__ import annotations

import os
from pathlib import Path

from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split, assign_splits, sidecar_split
from axion_terratorch.datasets.npz import NpzTileDataset
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import report_bad_tiles


class NpzTileDataModule(PairedTileDataModule):
    """NPZ tiles (``s1_vv``, ``s1_vh``, ``s2_b2`` ...) under ``root``, named by file stem.

    Splits: ``split_files`` if given; else the ``"split"`` of each tile's JSON sidecar
    (``<tile>.json`` beside ``<tile>.npz``) when tiles have one; else a seeded ratio.

    Args:
        root: Folder searched recursively for ``*.npz``.
        split_files: ``{train: list.txt, val: ..., test: ...}``: tile names per split.
        val_ratio: Fraction of tiles for validation (ratio split).
        test_ratio: Fraction of tiles for test (ratio split).
        split_seed: Seed of the ratio split.
        tiles: Bands, units, tile size, Stage 2 input and bad-tile policy.
        batch_size: Tiles per batch.
        num_workers: DataLoader worker processes.
        augment: Flip and rotate training batches.
        max_samples: Cap on training tiles.
        max_eval_samples: Cap on validation and test tiles.

    Raises:
        FileNotFoundError: If ``root`` holds no NPZ file.
        BadTileError: With ``tiles.on_bad_tile: error``, if two files share a name (in different
            subfolders); with ``skip`` both are left out, with a warning.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
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
        self.root = Path(root)
        by_name: dict[str, list[Path]] = {}
        for path in sorted(self.root.rglob("*.npz")):
            by_name.setdefault(path.stem, []).append(path)
        duplicates = {
            name: f"tile {name!r}: {len(paths)} files of that name ({', '.join(map(str, paths))}); tiles are "
            "named by file stem, so rename all but one"
            for name, paths in by_name.items()
            if len(paths) > 1
        }
        report_bad_tiles(duplicates, tiles.on_bad_tile, f"{type(self).__name__}(root={root})")
        self.files = {name: paths[0] for name, paths in by_name.items() if name not in duplicates}
        if not by_name:
            msg = f"no .npz tile under root={root}"
            raise FileNotFoundError(msg)
        sidecars = {name: sidecar_split(path) for name, path in self.files.items()}
        self.splits = assign_splits(
            sorted(self.files), sidecars, split_files, val_ratio, test_ratio, split_seed
        )

    def build_dataset(self, split: Split) -> NpzTileDataset:
        """The NPZ tiles of ``split``."""
        files = [self.files[name] for name in self.splits[split]]
        return NpzTileDataset(files, self.tiles, random_crop=split == "train")
