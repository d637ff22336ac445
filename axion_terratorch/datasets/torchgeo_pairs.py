"""Base of the wrappers around torchgeo datasets: hold one, convert its samples to raw pairs."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np
from rasterio.errors import RasterioError
from torch import Tensor

from axion_terratorch.datasets.bands import band_positions
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair


class TorchGeoPairDataset(PairedTileDataset, abc.ABC):
    """A torchgeo dataset whose samples hold both sensors, as Stage 3 samples.

    Subclasses build the torchgeo dataset(s), set ``self.names`` (one tile name per index) and
    implement :meth:`fetch` (read through torchgeo) and :meth:`split_sample` (pure conversion).
    torchgeo reads the files; this class only reorders channels, selects bands and names tiles.

    Args:
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random windows (training) instead of centred ones.
    """

    @abc.abstractmethod
    def fetch(self, index: int) -> dict[str, Tensor]:
        """The torchgeo sample(s) of tile ``index`` (one dict)."""

    @abc.abstractmethod
    def split_sample(self, sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
        """``(S1 (2, H, W) in (VV, VH) order, S2 (B, H, W), names of the B S2 bands)``."""

    def describe(self, index: int) -> str:
        """Where tile ``index`` comes from, for error messages."""
        return f"{type(self).__name__} tile {self.names[index]!r}"

    def read_pair(self, index: int) -> RawPair:
        """Read tile ``index`` through torchgeo and select ``options.bands``."""
        source = self.describe(index)
        try:
            sample = self.fetch(index)
        except (OSError, RasterioError, ValueError) as error:
            msg = f"{source}: torchgeo could not read it ({error})"
            raise BadTileError(msg) from error
        sar, optical, names = self.split_sample(sample)
        optical = optical[band_positions(names, self.options.bands, source)]
        as_array = lambda t: np.array(t.numpy(), dtype=np.float32)
        return RawPair(self.names[index], as_array(sar), as_array(optical), source, source)
