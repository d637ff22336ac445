"""SSL4EO-S12 (torchgeo) as Sentinel-1 / Sentinel-2 pairs of the same location and season."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor
from torchgeo.datasets import SSL4EOS12

from axion_terratorch.datasets.bands import normalize_band
from axion_terratorch.datasets.errors import BadTileError
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.torchgeo_pairs import TorchGeoPairDataset

#: Seasonal snapshots per location in SSL4EO-S12 (its example data may hold fewer).
SEASONS = 4
#: Largest time between the S1 and S2 acquisitions paired as one season, days.
MAX_PAIR_DAYS = 60.0


def pair_seasons(s1: dict[str, Tensor], s2: dict[str, Tensor], season: int) -> tuple[Tensor, Tensor]:
    """The S1 and S2 images of one season from two all-season samples of the same location.

    torchgeo returns the seasons of each sensor in random order (``random.sample``), with their
    mean acquisition times in ``t`` (seconds). Both are sorted by time and season ``season``
    (0 = earliest) of each is taken.

    Args:
        s1: ``SSL4EOS12(split="s1", seasons=n)`` sample: image (n * 2, H, W), t (n,).
        s2: ``SSL4EOS12(split="s2a"|"s2c", seasons=n)`` sample: image (n * B, H, W), t (n,).
        season: Chronological rank of the season, ``0 .. n-1``.

    Returns:
        ``(S1 (2, H, W) VV, VH, S2 (B, H, W))``.

    Raises:
        BadTileError: If the two acquisitions are more than ``MAX_PAIR_DAYS`` apart.
    """
    pairs = []
    for sample in (s1, s2):
        order = torch.argsort(sample["t"])
        bands = len(sample["image"]) // len(sample["t"])
        chosen = int(order[season])
        pairs.append((sample["image"][chosen * bands : (chosen + 1) * bands], float(sample["t"][chosen])))
    (sar, t1), (optical, t2) = pairs
    days = abs(t1 - t2) / 86400
    if days > MAX_PAIR_DAYS:
        msg = f"season {season}: S1 and S2 are {days:.0f} days apart (more than {MAX_PAIR_DAYS:g})"
        raise BadTileError(msg)
    return sar, optical


class SSL4EOS12Pairs(TorchGeoPairDataset):
    """SSL4EO-S12 (torchgeo ``SSL4EOS12``): S1 GRD and S2 of one location and season, 264x264 px.

    torchgeo serves one sensor per dataset and draws ``seasons`` of the stored seasons at random,
    so this holds one dataset per sensor reading all of them and pairs the seasons by acquisition
    time (:func:`pair_seasons`). Index ``i`` is location ``i // seasons``, season ``i % seasons``;
    each read loads every season of both sensors (``seasons`` x the pixels of the pair).

    Dataset features:

    * S1 VV/VH in dB (Earth Engine ``COPERNICUS/S1_GRD``).
    * S2: ``s2a`` is L2A (12 bands, surface reflectance x 10000); ``s2c`` is L1C (13 bands with
      B10, top-of-atmosphere reflectance x 10000: not what TerraMind's S2L2A expects).
    * Tiles are named ``<location>_<season>`` (e.g. ``0000042_2``).

    Args:
        root: SSL4EO-S12 folder with ``s1`` and ``s2a`` (or ``s2c``) extracted.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy.
        s2_level: ``s2a`` (L2A) or ``s2c`` (L1C).
        locations: Locations ``0 .. locations-1`` to use (default: the folders in ``root/s1``).
        seasons: Seasons stored per location and sensor: 4 in SSL4EO-S12, 2 in its example data.
            Every location must hold exactly this many (else torchgeo would draw a random subset).
        random_crop: Random windows (training) instead of centred ones.

    Raises:
        ValueError: If ``seasons`` is not 1 to 4.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        options: TileOptions,
        s2_level: Literal["s2a", "s2c"] = "s2a",
        locations: Sequence[int] | None = None,
        seasons: int = SEASONS,
        random_crop: bool = False,
    ) -> None:
        if not 1 <= seasons <= SEASONS:
            msg = f"seasons must be 1 to {SEASONS}, got {seasons}"
            raise ValueError(msg)
        super().__init__(options, random_crop)
        self.seasons = seasons
        self.s1 = SSL4EOS12(root=root, split="s1", seasons=seasons)
        self.s2 = SSL4EOS12(root=root, split=s2_level, seasons=seasons)
        self.s2_bands = [normalize_band(band) or band for band in self.s2.bands]
        if locations is None:
            locations = range(len([p for p in (Path(root) / "s1").iterdir() if p.is_dir()]))
        self.names = [f"{location:07}_{season}" for location in locations for season in range(seasons)]
        self.screen({})

    def fetch(self, index: int) -> dict[str, Tensor]:
        """``{"image_s1", "image_s2"}`` of tile ``index``, paired by :func:`pair_seasons`.

        Raises:
            BadTileError: If a sensor's location folder does not hold exactly ``seasons`` seasons.
        """
        location, season = (int(part) for part in self.names[index].split("_"))
        for dataset in (self.s1, self.s2):
            folder = Path(dataset.root) / dataset.split / f"{location:07}"
            stored = len(os.listdir(folder))
            if stored != self.seasons:
                msg = f"{folder} holds {stored} seasons, not seasons={self.seasons}"
                raise BadTileError(msg)
        sar, optical = pair_seasons(self.s1[location], self.s2[location], season)
        return {"image_s1": sar, "image_s2": optical}

    def split_sample(self, sample: dict[str, Tensor]) -> tuple[Tensor, Tensor, Sequence[str]]:
        """S1 (VV, VH as torchgeo lists them), S2 and its band names."""
        return sample["image_s1"], sample["image_s2"], self.s2_bands
