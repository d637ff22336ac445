"""Tiles of the original Stage 3 pipeline: one NPZ per tile with one 2-D array per band."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import check_pixels, check_real_dtype
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair

#: NPZ keys of the Sentinel-1 polarisations (VV, VH).
S1_KEYS: tuple[str, ...] = ("s1_vv", "s1_vh")


def s2_key(band: str) -> str:
    """NPZ key of a Sentinel-2 band: ``B02`` -> ``s2_b2``, ``B8A`` -> ``s2_b8a``."""
    number = band[1:].lstrip("0")
    return f"s2_b{number.lower()}"


def npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Array shapes of an NPZ file from its headers, without reading the arrays.

    Raises:
        BadTileError: If the file is missing or not a readable NPZ; the message names it.
    """
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shapes[member.removesuffix(".npy")] = read_header(f)[0]
    except (OSError, ValueError, NotImplementedError, zipfile.BadZipFile) as error:
        msg = f"{path}: unreadable NPZ ({error})"
        raise BadTileError(msg) from error
    return shapes


class NpzTileDataset(PairedTileDataset):
    """The original pipeline's NPZ tiles, named by file stem.

    Dataset features:

    * Keys ``s1_vv``, ``s1_vh`` (dB or linear power) and ``s2_b2``, ``s2_b3``, ``s2_b4``,
      ``s2_b8`` (more bands as ``s2_b<n>``, e.g. ``s2_b8a``), each a 2-D array of one shape.
    * S2 in the unit given by ``s2_scale`` (10000: DN; 1: reflectance).

    Keys and shapes are checked from the NPZ headers at construction.

    Args:
        files: NPZ files, one per tile.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random windows (training) instead of centred ones.
    """

    def __init__(self, files: Sequence[Path], options: TileOptions, random_crop: bool = False) -> None:
        super().__init__(options, random_crop)
        self.files = {Path(path).stem: Path(path) for path in files}
        self.names = sorted(self.files)
        self.keys = (*S1_KEYS, *(s2_key(band) for band in options.bands))
        problems = {}
        for name, path in self.files.items():
            try:
                self._check(path)
            except BadTileError as error:
                problems[name] = str(error)
        self.screen(problems)

    def _check(self, path: Path) -> None:
        shapes = npz_shapes(path)
        missing = [key for key in self.keys if key not in shapes]
        if missing:
            msg = f"{path}: keys {missing} are missing; it has {sorted(shapes)}"
            raise BadTileError(msg)
        sizes = {key: shapes[key] for key in self.keys}
        if len(set(sizes.values())) != 1 or len(next(iter(sizes.values()))) != 2:
            msg = f"{path}: arrays must be 2-D and of one size, got {sizes}"
            raise BadTileError(msg)
        check_pixels(*next(iter(sizes.values())), str(path))

    def read_pair(self, index: int) -> RawPair:
        """Read tile ``index``: S1 from ``s1_vv``/``s1_vh``, S2 from ``s2_b<n>`` of the bands."""
        name = self.names[index]
        path = self.files[name]
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = []
                for key in self.keys:
                    array = npz[key]
                    check_real_dtype(array.dtype, f"{path} key {key!r}")
                    arrays.append(np.asarray(array, dtype=np.float32))
        except BadTileError:
            raise
        except (
            OSError,
            EOFError,
            ValueError,
            KeyError,
            NotImplementedError,
            zipfile.BadZipFile,
            MemoryError,
        ) as error:
            msg = f"{path}: cannot read the arrays, the file may be truncated ({error})"
            raise BadTileError(msg) from error
        return RawPair(name, np.stack(arrays[:2]), np.stack(arrays[2:]), str(path), str(path))
