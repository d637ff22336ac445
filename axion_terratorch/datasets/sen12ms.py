"""SEN12MS (torchgeo) as Sentinel-1 / Sentinel-2 **Level-1C** pairs."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from torch import Tensor
from torchgeo.datasets import SEN12MS

from axion_terratorch.constants import S1GRD_BANDS
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.torchgeo_pairs import TorchGeoPairDataset

logger = logging.getLogger(__name__)


def split_sen12ms(sample: dict[str, Tensor], s2_bands: Sequence[str]) -> tuple[Tensor, Tensor, Sequence[str]]:
    """``(S1 (2, H, W) VV, VH, S2 (B, H, W), s2_bands)`` of a SEN12MS sample loaded with
    ``bands=("VV", "VH", *s2_bands)``."""
    image = sample["image"]
    return image[:2], image[2:], s2_bands


class SEN12MSPairs(TorchGeoPairDataset):
    """SEN12MS (torchgeo ``SEN12MS``): S1 GRD and S2 **L1C**, 256x256 px at 10 m, four seasons.

    Dataset features:

    * S1 VV/VH sigma0 in dB (float).
    * S2 is Level-1C, top-of-atmosphere reflectance x 10000 in 13 bands (B01 ... B12 with B10);
      the selected ``bands`` are requested by name and B10 (cirrus, not in L2A) is never used. TOA
      is not the surface reflectance (L2A) TerraMind's S2L2A was trained on: expect a shift,
      strongest in the blue bands. The target and the Stage 2 input are both TOA.
    * Tiles are named by the file stem of the split list (e.g. ``ROIs1158_spring_s2_1_p30``).

    Args:
        root: SEN12MS folder (``ROIs*`` folders and ``train_list.txt``/``test_list.txt``).
        split: ``train`` or ``test`` (SEN12MS has no validation split; the data module draws one).
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random windows (training) instead of centred ones.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: Literal["train", "test"],
        options: TileOptions,
        random_crop: bool = False,
    ) -> None:
        super().__init__(options, random_crop)
        self.dataset = SEN12MS(root=root, split=split, bands=(*S1GRD_BANDS, *options.bands))
        logger.info(
            "SEN12MS: Sentinel-2 is Level-1C (top of atmosphere), not L2A; bands %s of 13, B10 unused",
            list(options.bands),
        )
        self.names = [Path(name).stem for name in self.dataset.ids]
        self._index = {name: i for i, name in enumerate(self.names)}
        self.screen({})

    def fetch(self, index: int) -> dict[str, Tensor]:
        """torchgeo's sample of tile ``index``."""
        return self.dataset[self._index[self.names[index]]]

    def split_sample(self, sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
        """See :func:`split_sen12ms`."""
        return split_sen12ms(sample, self.options.bands)
