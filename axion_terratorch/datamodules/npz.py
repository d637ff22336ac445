"""Data module over the original pipeline's NPZ tiles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from axion_terratorch.datamodules.base import NamedTileDataModule
from axion_terratorch.datamodules.splits import Split, sidecar_split
from axion_terratorch.datasets.npz import NpzTileDataset
from axion_terratorch.datasets.tiles import report_bad_tiles


class NpzTileDataModule(NamedTileDataModule):
    """NPZ tiles (``s1_vv``, ``s1_vh``, ``s2_b2`` ...) under ``root``, named by file stem.

    Splits: ``split_files`` if given; else the ``"split"`` of each tile's JSON sidecar
    (``<tile>.json`` beside ``<tile>.npz``) when tiles have one; else a seeded ratio.

    Args:
        root: Folder searched recursively for ``*.npz``.
        **kwargs: The splits (``split_files``, ``val_ratio`` ...) of :class:`NamedTileDataModule`
            and the ``tiles``, ``batch_size`` ... of :class:`PairedTileDataModule`.

    Raises:
        FileNotFoundError: If ``root`` holds no NPZ file.
        BadTileError: With ``tiles.on_bad_tile: error``, if two files share a name (in different
            subfolders); with ``skip`` both are left out, with a warning.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        report_bad_tiles(duplicates, self.tiles.on_bad_tile, f"{type(self).__name__}(root={root})")
        self.files = {name: paths[0] for name, paths in by_name.items() if name not in duplicates}
        if not by_name:
            msg = f"no .npz tile under root={root}"
            raise FileNotFoundError(msg)
        self.assign_splits(list(self.files), {name: sidecar_split(path) for name, path in self.files.items()})

    def build_dataset(self, split: Split) -> NpzTileDataset:
        """The NPZ tiles of ``split``."""
        files = [self.files[name] for name in self.splits[split]]
        return NpzTileDataset(files, self.tiles, random_crop=split == "train")
