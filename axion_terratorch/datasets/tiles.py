"""Base dataset of paired Sentinel-1 / Sentinel-2 tiles: units, valid mask, Stage 2, crops, bad tiles."""

from __future__ import annotations

import abc
import logging
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from axion_terratorch.constants import ERROR_MASK_KEY, OPTICAL_KEY, SAR_KEY
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.stage2 import Stage2Source
from axion_terratorch.datasets.units import dn_to_reflectance, sar_to_db
from axion_terratorch.datasets.windows import crop_or_pad, draw_generator

logger = logging.getLogger(__name__)

Sample = dict[str, Tensor | dict[str, Tensor]]

#: Sample key (with ``on_bad_tile: skip``): int64 count of bad tiles skipped to reach this sample.
BAD_TILES_KEY = "bad_tiles"


@dataclass
class RawPair:
    """One tile as a source stores it, before unit conversion.

    Attributes:
        name: Tile name (also the name of its Stage 2 file).
        sar: float32 (2, H, W) VV, VH in dB or linear power, NaN = nodata.
        optical: float32 (C, H, W) Sentinel-2 of ``TileOptions.bands`` as stored (DN), NaN = nodata;
            ``None`` when the source has no real Sentinel-2 (prediction only: no ``target``).
        s1_source: Sentinel-1 file(s), named in errors.
        s2_source: Sentinel-2 file(s), named in errors.
        stage2: float32 (C, H, W) Stage 2 input the source read itself, stored like ``optical``
            (e.g. a cloudy acquisition), or ``None``: ``stage2_dir`` or the proxy provide it.
        stage2_source: The file of ``stage2``, named in errors.
    """

    name: str
    sar: np.ndarray
    optical: np.ndarray | None
    s1_source: str
    s2_source: str
    stage2: np.ndarray | None = None
    stage2_source: str = ""


class PairedTileDataset(Dataset[Sample], abc.ABC):
    """Turn a source's raw pairs into Stage 3 samples; subclasses list tiles and read them.

    Samples::

        {"image": {"S1GRD": float32 (2, S, S) VV/VH dB, "S2L2A": float32 (C, S, S) Stage 2
         reflectance}, "target": float32 (C, S, S) real Sentinel-2 reflectance,
         "valid_mask": bool (1, S, S), "error_mask": float32 (1, S, S) in [0, 1], "filename": str
         (the tile's name, as terratorch's data modules)}

    with ``S = tile_size`` and C = ``len(bands)``. ``error_mask`` is where ``tiles.stage2_errors``
    changed the proxy (:class:`~axion_terratorch.datasets.stage2_errors.Stage2Errors`; 0 without
    them and for Stage 2 files). A pixel is valid when it is finite and not nodata
    in S1, S2 and the Stage 2 input, and not padding; invalid pixels are 0 in every array. With
    ``on_bad_tile: skip`` a bad tile is replaced by the next good one (with a warning) and samples
    carry ``"bad_tiles"``: the count of tiles skipped to reach them.

    Subclasses set ``self.names`` (tile names, one per index) and implement :meth:`read_pair`;
    they call :meth:`screen` with the problems found by cheap checks at construction. A pair that
    carries its own Stage 2 input (:attr:`RawPair.stage2`) uses it, in the units of the optical
    image; a pair without real Sentinel-2 (``optical=None``) gives a sample without ``target``.

    Args:
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random ``tile_size`` windows (training) instead of centred ones; without it
            (validation, test) ``options.eval_stage2_errors`` says whether the proxy has
            ``stage2_errors``.
        reads_stage2: Every pair carries its Stage 2 input: ``options`` need none, and their
            ``stage2_dir`` and proxy are not used.
    """

    names: list[str]

    def __init__(self, options: TileOptions, random_crop: bool = False, reads_stage2: bool = False) -> None:
        self.options = options
        self.random_crop = random_crop
        if not (random_crop or options.eval_stage2_errors):
            options = replace(options, stage2_errors=None)
        self.stage2 = None if reads_stage2 else Stage2Source(options)
        self.names = []

    @abc.abstractmethod
    def read_pair(self, index: int) -> RawPair:
        """Read tile ``index``; raise :class:`BadTileError` naming the file when it cannot be read."""

    def __len__(self) -> int:
        """Number of tiles."""
        return len(self.names)

    def __getitem__(self, index: int) -> Sample:
        """Sample of tile ``index`` (see the class docstring).

        Raises:
            BadTileError: With ``on_bad_tile: error``, if the tile is bad; with ``skip``, if every
                tile is. The message names the file and the problem.
        """
        generator = draw_generator(index)
        if self.options.on_bad_tile == "error":
            return self.load(index, generator)
        for skipped in range(len(self)):
            try:
                sample = self.load((index + skipped) % len(self), generator)
            except BadTileError as error:
                warnings.warn(f"skipping a bad tile: {error}", UserWarning, stacklevel=2)
                continue
            sample[BAD_TILES_KEY] = torch.tensor(skipped)
            return sample
        msg = f"all {len(self)} tiles of {type(self).__name__} are bad (see the warnings)"
        raise BadTileError(msg)

    def load(self, index: int, generator: torch.Generator | None = None) -> Sample:
        """Sample of tile ``index``, raising :class:`BadTileError` if the tile is bad.

        ``generator`` draws the random crop and, with ``resample_proxy``, the proxy and its
        structural errors (default: torch's global generator).
        """
        options = self.options
        raw = self.read_pair(index)
        if options.s1_nodata is not None:
            raw.sar[raw.sar == options.s1_nodata] = np.nan
        sar = sar_to_db(raw.sar, raw.s1_source)
        optical = None if raw.optical is None else self._reflectance(raw.optical, raw.s2_source)
        valid = np.isfinite(sar).all(0)
        if optical is not None:
            valid &= np.isfinite(optical).all(0)
        if not valid.any():
            msg = (
                f"tile {raw.name!r} ({raw.s1_source}, {raw.s2_source}) has no valid pixel: all nodata or NaN"
            )
            raise BadTileError(msg)
        stage2, errors = self._stage2_input(raw, optical, valid, generator)
        valid &= np.isfinite(stage2).all(0)
        images = (sar, stage2, errors[None]) if optical is None else (sar, stage2, errors[None], optical)
        arrays = [np.where(valid, a, 0).astype(np.float32) for a in images] + [valid[None]]
        if options.tile_size is not None:
            arrays = crop_or_pad(arrays, options.tile_size, self.random_crop, generator)
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
        sample: Sample = {"image": {SAR_KEY: tensors[0], OPTICAL_KEY: tensors[1]}}
        if optical is not None:
            sample["target"] = tensors[3]
        sample |= {"valid_mask": tensors[-1], ERROR_MASK_KEY: tensors[2], "filename": raw.name}
        return sample

    def _stage2_input(
        self, raw: RawPair, optical: np.ndarray | None, valid: np.ndarray, generator: torch.Generator | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The Stage 2 input (reflectance) and the mask of its structural errors (zeros unless the
        proxy made them): the pair's own input, else the ``stage2_dir`` file or proxy of the options."""
        if raw.stage2 is not None:
            stage2 = self._reflectance(raw.stage2, raw.stage2_source)
            if stage2.shape[1:] != valid.shape:
                msg = f"{raw.stage2_source}: size {stage2.shape[1:]} differs from {raw.s1_source}'s {valid.shape}"
                raise BadTileError(msg)
            return stage2, np.zeros(valid.shape, np.float32)
        if self.stage2 is None or optical is None:
            msg = f"tile {raw.name!r} ({raw.s1_source}): {type(self).__name__} read no Stage 2 input for it"
            raise BadTileError(msg)
        return self.stage2.load(raw.name, optical, valid, self._proxy_rng(generator))

    def _reflectance(self, dn: np.ndarray, source: str) -> np.ndarray:
        """Sentinel-2 ``dn`` as stored -> reflectance (``s2_nodata`` -> NaN), per the options."""
        options = self.options
        if options.s2_nodata is not None:
            dn[dn == options.s2_nodata] = np.nan
        return dn_to_reflectance(dn, options.s2_scale, options.s2_offset, source)

    def _proxy_rng(self, generator: torch.Generator | None) -> np.random.Generator | None:
        """A new proxy draw (structural errors included) for a training sample (``resample_proxy``),
        seeded from ``generator``."""
        if not (self.random_crop and self.options.resample_proxy):
            return None
        return np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))

    def keep(self, names: Collection[str]) -> None:
        """Keep only the tiles in ``names`` (a split), in their current order."""
        wanted = set(names)
        self.names = [name for name in self.names if name in wanted]

    def limit(self, count: int | None) -> None:
        """Keep the first ``count`` tiles (``None``: all), for debugging runs."""
        if count is not None:
            self.names = self.names[:count]

    def screen(self, problems: Mapping[str, str]) -> None:
        """Drop tiles found bad at construction (``skip``) or raise for the first (``error``).

        Also drops tiles that have neither a Stage 2 file nor the proxy, and tiles whose Stage 2 file
        is a symbolic link leading out of ``stage2_dir``. ``problems`` maps a tile
        name to a message naming the file and the problem.

        Raises:
            BadTileError: With ``on_bad_tile: error``, if any tile has a problem.
        """
        label = type(self).__name__
        problems = dict(problems)
        if self.stage2 is not None:
            problems.update(self.stage2.problems([n for n in self.names if n not in problems], label))
        report_bad_tiles(problems, self.options.on_bad_tile, label)
        if problems:
            self.names = [name for name in self.names if name not in problems]
            logger.warning("%s: %d bad tiles left out at setup, %d remain", label, len(problems), len(self))


def report_bad_tiles(problems: Mapping[str, str], on_bad_tile: str, label: str) -> None:
    """Raise for the first problem (``error``) or warn about each (``skip``).

    Args:
        problems: Tile name -> message naming the file and the problem.
        on_bad_tile: ``error`` or ``skip``.
        label: Where the tiles come from, for the log.

    Raises:
        BadTileError: With ``on_bad_tile: error``, if there is any problem; the message gives the
            first problem and how many others there are.
    """
    if not problems:
        return
    if on_bad_tile == "error":
        first = next(iter(problems.values()))
        more = f" (and {len(problems) - 1} more bad tiles)" if len(problems) > 1 else ""
        msg = f"{first}{more}; set on_bad_tile: skip to leave bad tiles out"
        raise BadTileError(msg)
    for problem in problems.values():
        warnings.warn(f"skipping a bad tile: {problem}", UserWarning, stacklevel=3)
    logger.warning("%s: %d bad tiles left out", label, len(problems))
