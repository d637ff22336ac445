"""BigEarthNet v1 and v2 (torchgeo) as Sentinel-1 / Sentinel-2 L2A pairs."""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from torch import Tensor
from torchgeo.datasets import BigEarthNet, BigEarthNetV2

from axion_terratorch.constants import S1GRD_BANDS, S2L2A_BANDS
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.torchgeo_pairs import TorchGeoPairDataset

#: A BigEarthNet split.
BigEarthNetSplit = Literal["train", "val", "test"]
#: Channels of torchgeo's ``BigEarthNet(bands="all")`` image. torchgeo sorts the S1 files by name,
#: so VH comes before VV (its docstring says VV, VH), then the 12 L2A bands in ``S2L2A_BANDS`` order.
BIGEARTHNET_CHANNELS: tuple[str, ...] = ("VH", "VV", *S2L2A_BANDS)
#: Channels of ``BigEarthNetV2(bands="all")``: ``image_s1`` (VH, VV, sorted files), ``image_s2``.
BIGEARTHNET_V2_S1: tuple[str, ...] = ("VH", "VV")


def split_bigearthnet(sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
    """``(S1 (2, H, W) VV, VH, S2 (12, H, W), S2 band names)`` of a ``BigEarthNet(bands="all")`` sample."""
    image = sample["image"]
    vv_vh = [BIGEARTHNET_CHANNELS.index(p) for p in S1GRD_BANDS]
    return image[vv_vh], image[2:], BIGEARTHNET_CHANNELS[2:]


def split_bigearthnet_v2(sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
    """``(S1 (2, H, W) VV, VH, S2 (12, H, W), S2 band names)`` of a ``BigEarthNetV2(bands="all")`` sample."""
    vv_vh = [BIGEARTHNET_V2_S1.index(p) for p in S1GRD_BANDS]
    return sample["image_s1"][vv_vh], sample["image_s2"], S2L2A_BANDS


class _BigEarthNetPairs(TorchGeoPairDataset):
    """torchgeo's ``bands="all"`` BigEarthNet (v1 or v2) of one split, tiles named by :meth:`tile_names`."""

    torchgeo_class: type[BigEarthNet | BigEarthNetV2]

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: BigEarthNetSplit,
        options: TileOptions,
        random_crop: bool = False,
    ) -> None:
        super().__init__(options, random_crop)
        self.dataset = self.torchgeo_class(root=root, split=split, bands="all")
        self.names = self.tile_names()
        self._index = {name: i for i, name in enumerate(self.names)}
        self.screen({})

    @abc.abstractmethod
    def tile_names(self) -> list[str]:
        """One name per tile of ``self.dataset``, in its order."""

    def fetch(self, index: int) -> dict[str, Tensor]:
        """torchgeo's sample of tile ``index``."""
        return self.dataset[self._index[self.names[index]]]


class BigEarthNetPairs(_BigEarthNetPairs):
    """BigEarthNet v1 (torchgeo ``BigEarthNet``, ``bands="all"``): S1 GRD and S2 L2A, 120x120 px.

    Dataset features:

    * S1 VV/VH in dB. torchgeo reads them as int32, so they arrive **rounded to whole dB**; for
      full precision read the same folder with :class:`GeoTiffPairDataset` (see ``docs/data.md``).
    * S2 L2A, uint16 DN (reflectance x 10000), 20 m and 60 m bands resampled (bilinear) to 10 m
      by torchgeo. The torchgeo channel order (VH first) is fixed here, see ``BIGEARTHNET_CHANNELS``.
    * Tiles are named after their S2 patch folder (the Stage 2 file name).

    Args:
        root: Folder with ``BigEarthNet-S1-v1.0``, ``BigEarthNet-v1.0`` and the split csv files.
        split: ``train``, ``val`` or ``test``.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random windows (training) instead of centred ones.
    """

    torchgeo_class = BigEarthNet

    def tile_names(self) -> list[str]:
        """The S2 patch folder names."""
        return [Path(folder["s2"]).name for folder in self.dataset.folders]

    def split_sample(self, sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
        """See :func:`split_bigearthnet`."""
        return split_bigearthnet(sample)

    def describe(self, index: int) -> str:
        """The tile's S1 and S2 folders."""
        folders = self.dataset.folders[self._index[self.names[index]]]
        return f"{folders['s1']} + {folders['s2']}"


class BigEarthNetV2Pairs(_BigEarthNetPairs):
    """BigEarthNet v2 (torchgeo ``BigEarthNetV2``, ``bands="all"``): S1 GRD and S2 L2A, 120x120 px.

    Dataset features as :class:`BigEarthNetPairs` (S1 rounded to whole dB by torchgeo's int32
    read, S2 L2A DN resampled to 10 m); tiles are named by ``patch_id``.

    Args:
        root: Folder with ``BigEarthNet-S1``, ``BigEarthNet-S2``, ``Reference_Maps`` and
            ``metadata.parquet``.
        split: ``train``, ``val`` or ``test``.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        random_crop: Random windows (training) instead of centred ones.
    """

    torchgeo_class = BigEarthNetV2

    def tile_names(self) -> list[str]:
        """The ``patch_id`` of each row of the metadata."""
        return [str(patch) for patch in self.dataset.metadata_df["patch_id"]]

    def split_sample(self, sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
        """See :func:`split_bigearthnet_v2`."""
        return split_bigearthnet_v2(sample)
