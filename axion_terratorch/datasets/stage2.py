"""Stage 2 optical estimates: read from ``stage2_dir`` by tile name, or the degradation proxy."""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from axion_terratorch.datasets.bands import band_positions, normalize_band
from axion_terratorch.datasets.degradation import degrade, tile_rng
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.raster import check_real_dtype, read_bands, read_header
from axion_terratorch.datasets.units import dn_to_reflectance

logger = logging.getLogger(__name__)

#: NPZ key of the Stage 2 estimate (the original pipeline's name), float (C, H, W).
STAGE2_NPZ_KEY = "opt_v2"
#: File name suffixes searched in ``stage2_dir``, in order.
STAGE2_SUFFIXES = (".npz", ".tif", ".tiff")


class Stage2Source:
    """Find and read the Stage 2 estimate of a tile, or build its proxy when allowed.

    Args:
        options: ``stage2_dir``, ``stage2_bands``, ``stage2_scale``, ``stage2_proxy``, ``seed`` and
            ``bands`` (the bands returned) are used.

    Raises:
        ValueError: If ``options`` sets neither ``stage2_dir`` nor ``stage2_proxy``.
    """

    def __init__(self, options: TileOptions) -> None:
        options.check_stage2_input()
        self.options = options
        self.directory = Path(options.stage2_dir) if options.stage2_dir is not None else None

    def find(self, name: str) -> Path | None:
        """The Stage 2 file of tile ``name``, or ``None`` (also for names that would leave ``stage2_dir``)."""
        if self.directory is None or Path(name).name != name or name in {"", ".", ".."}:
            return None
        for suffix in STAGE2_SUFFIXES:
            path = self.directory / f"{name}{suffix}"
            if path.is_file():
                return path
        return None

    def outside(self, path: Path) -> str | None:
        """Why ``path`` (found in ``stage2_dir``) may not be read: a link leading out of the folder."""
        target = path.resolve()
        if self.directory is None or target.is_relative_to(self.directory.resolve()):
            return None
        return (
            f"{path} is a symbolic link to {target}, outside stage2_dir={self.directory}; Stage 2 "
            "files are read only from inside stage2_dir (copy the file in, or point stage2_dir at its folder)"
        )

    def problems(self, names: Sequence[str], label: str) -> dict[str, str]:
        """``{tile: problem}`` for tiles of ``names`` that have no usable Stage 2 file: none found
        (unless the proxy is on, see :meth:`missing`) or a link leading out of ``stage2_dir``."""
        found = {name: self.find(name) for name in names}
        problems = {}
        for name, path in found.items():
            reason = None if path is None else self.outside(path)
            if reason is not None:
                problems[name] = f"tile {name!r}: {reason}"
        for name in self.missing([n for n in names if n not in problems], label):
            problems[name] = f"tile {name!r}: no Stage 2 output in stage2_dir={self.directory}"
        return problems

    def missing(self, names: Sequence[str], label: str) -> list[str]:
        """Tiles of ``names`` without a Stage 2 file; log how many use the proxy instead.

        Returns:
            The tiles that can be used neither with a file nor the proxy (empty when the proxy is on).
        """
        absent = [name for name in names if self.find(name) is None]
        if self.options.stage2_proxy:
            if absent:
                logger.info(
                    "%s: %d of %d tiles have no Stage 2 output in %s and use the degradation proxy",
                    label,
                    len(absent),
                    len(names),
                    self.directory,
                )
            return []
        return absent

    def load(
        self, name: str, reflectance: np.ndarray, valid: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stage 2 estimate of tile ``name`` and where structural errors changed it.

        A proxy is the tile's real Sentinel-2 with ``options.stage2_errors`` put in (drawn from a
        child of the proxy's generator, ``rng.spawn``, so the photometric draws stay those of the
        proxy without them), then degraded (:func:`~axion_terratorch.datasets.degradation.degrade`).

        Args:
            name: Tile name.
            reflectance: The tile's real Sentinel-2, float32 (C, H, W) (the proxy's source).
            valid: bool (H, W) valid pixels of the tile.
            rng: Draws of the proxy (and its structural errors) instead of the tile's own
                (``resample_proxy``); a Stage 2 file is read whatever it is.

        Returns:
            ``(estimate, error_mask)``: float32 (C, H, W) reflectance in ``options.bands`` order, and
            float32 (H, W) in [0, 1] from :meth:`Stage2Errors.apply` (0 for a Stage 2 file or
            without ``stage2_errors``).

        Raises:
            BadTileError: If the file is unreadable, lacks ``opt_v2`` or a band, has another size
                than the tile, is a symbolic link leading out of ``stage2_dir``, or does not exist
                and the proxy is off; the message names the file.
        """
        path = self.find(name)
        if path is None:
            if not self.options.stage2_proxy:
                msg = (
                    f"tile {name!r}: no Stage 2 output in stage2_dir={self.directory} "
                    f"(tried {', '.join(name + s for s in STAGE2_SUFFIXES)}); set stage2_proxy: true "
                    "to use the degradation proxy"
                )
                raise BadTileError(msg)
            return self._proxy(name, reflectance, valid, rng)
        reason = self.outside(path)
        if reason is not None:
            raise BadTileError(reason)
        data, bands = _read_npz(path) if path.suffix == ".npz" else _read_tif(path)
        bands = bands or self.options.stage2_bands
        if len(bands) != len(data):
            msg = f"{path}: {len(data)} bands but {len(bands)} band names {list(bands)}"
            raise BadTileError(msg)
        if data.shape[1:] != reflectance.shape[1:]:
            msg = f"{path}: size {data.shape[1:]} differs from the tile's {reflectance.shape[1:]}"
            raise BadTileError(msg)
        selected = data[band_positions(bands, self.options.bands, str(path))]
        estimate = dn_to_reflectance(selected, self.options.stage2_scale, 0.0, str(path))
        return estimate, np.zeros(estimate.shape[1:], dtype=np.float32)

    def _proxy(
        self, name: str, reflectance: np.ndarray, valid: np.ndarray, rng: np.random.Generator | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The proxy of tile ``name``: structural errors (if any), then the photometric degradation."""
        rng = tile_rng(self.options.seed, name) if rng is None else rng
        errors = self.options.stage2_errors
        if errors is None:
            return degrade(reflectance, rng, valid), np.zeros(reflectance.shape[1:], dtype=np.float32)
        truth, mask = errors.apply(reflectance, rng.spawn(1)[0], valid)
        return degrade(truth, rng, valid), mask


def _read_npz(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = sorted(npz.files)
            data = npz[STAGE2_NPZ_KEY] if STAGE2_NPZ_KEY in keys else None
            if data is not None:
                check_real_dtype(data.dtype, f"{path} key {STAGE2_NPZ_KEY!r}")
                data = np.asarray(data, dtype=np.float32)
    except BadTileError:
        raise
    except (OSError, EOFError, ValueError, NotImplementedError, zipfile.BadZipFile, MemoryError) as error:
        msg = f"{path}: unreadable NPZ ({error})"
        raise BadTileError(msg) from error
    if data is None:
        msg = f"{path}: no key {STAGE2_NPZ_KEY!r}; it has {keys}"
        raise BadTileError(msg)
    if data.ndim != 3:
        msg = f"{path}: {STAGE2_NPZ_KEY} has shape {data.shape}, expected (bands, height, width)"
        raise BadTileError(msg)
    return data, ()


def _read_tif(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    header = read_header(path)
    names = [normalize_band(d) if d else None for d in header.descriptions]
    bands = tuple(n for n in names if n is not None) if all(names) else ()
    return read_bands(path, range(1, header.count + 1)), bands
