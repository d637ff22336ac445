"""One data module over several sources of paired tiles, each keeping its own train/val/test split."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from typing import Any

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.datamodules.base import PairedTileDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import PairedTileDataset, RawPair

logger = logging.getLogger(__name__)


class ConcatPairedTileDataset(PairedTileDataset):
    """The tiles of several datasets in a row: each part reads its tiles, ``options`` makes the samples.

    Units, valid mask, Stage 2 input, crop and bad-tile handling follow ``options`` and
    ``random_crop``, not the parts' (which only read the raw pairs).

    Args:
        parts: Datasets read through their :meth:`~PairedTileDataset.read_pair`.
        labels: One label per part, naming it in errors.
        options: Bands, units, tile size, Stage 2 input and bad-tile policy of the samples.
        random_crop: Random ``tile_size`` windows (training) instead of centred ones.

    Raises:
        ValueError: If two parts hold a tile of the same name (it names the Stage 2 file and seeds
            the proxy); the message names the tile and both parts.
    """

    def __init__(
        self,
        parts: Sequence[PairedTileDataset],
        labels: Sequence[str],
        options: TileOptions,
        random_crop: bool = False,
    ) -> None:
        super().__init__(options, random_crop)
        self.where: dict[str, tuple[PairedTileDataset, int]] = {}
        owner: dict[str, str] = {}
        for part, label in zip(parts, labels, strict=True):
            for index, name in enumerate(part.names):
                if name in owner:
                    msg = (
                        f"tile {name!r} is in {owner[name]} and in {label}: tile names must be unique "
                        "across sources (they name the Stage 2 files and seed the proxy)"
                    )
                    raise ValueError(msg)
                owner[name] = label
                self.where[name] = (part, index)
        self.names = list(self.where)

    def read_pair(self, index: int) -> RawPair:
        """Tile ``index`` as its part reads it."""
        part, part_index = self.where[self.names[index]]
        return part.read_pair(part_index)


class MultiSourcePairDataModule(PairedTileDataModule):
    """The concatenation, split by split, of several :class:`PairedTileDataModule` sources.

    Each source keeps its own train/val/test split (list files, its dataset's splits, a ratio
    by location ...), and the split of this module is the sources' tiles of that split, in source
    order. Batches, the resumable training order, augmentation, the bad-tile report and the caps
    are those of :class:`PairedTileDataModule`; a source's ``batch_size``, ``num_workers`` and
    ``augment`` are not used, its caps limit its own tiles.

    ``tiles`` applies to every source, so tiles of different native sizes (BigEarthNet 120 px,
    SSL4EO-S12 264 px) become samples of one size. A source's ``tiles`` may leave a field at its
    default; a field it sets to another value must equal this module's, else the source is
    rejected. A source needs a Stage 2 input to be built, so the minimum is
    ``tiles: {stage2_proxy: true}`` (or the same ``stage2_dir``). Checks a source runs while it is
    built (e.g. the file matching of :class:`GeoTiffPairDataModule`) use its own ``tiles``.

    Args:
        sources: The data modules to combine (in YAML: ``[{class_path: ..., init_args: ...}]``).
        tiles: Bands, units, tile size, Stage 2 input and bad-tile policy of every source
            (:class:`PairedTileDataModule`'s argument, like the following).
        eval_tile_size: Centre-crop size of validation and test tiles (``None``: ``tiles.tile_size``).
            Set it to the native size of the held-out tiles to evaluate them whole; larger tiles
            are centre-cropped, smaller ones padded (the padding is invalid in ``valid_mask``).
        **kwargs: ``batch_size``, ``num_workers``, ``augment``, ``max_samples`` and
            ``max_eval_samples`` (applied after the sources' caps), ``train_repeats`` of
            :class:`PairedTileDataModule`.

    Raises:
        ValueError: If ``sources`` is empty, ``eval_tile_size`` is below 16 px, or a source's
            ``tiles`` contradict ``tiles`` (the message names the source and the field).
    """

    def __init__(
        self,
        sources: Sequence[PairedTileDataModule],
        tiles: TileOptions = TileOptions(),  # noqa: B008 - frozen dataclass
        eval_tile_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(tiles, **kwargs)
        if not sources:
            msg = "sources must list at least one data module"
            raise ValueError(msg)
        check_at_least(16, {"eval_tile_size": eval_tile_size}, " px or None")
        self.eval_tile_size = eval_tile_size
        self.sources = list(sources)
        self.labels = [f"sources[{i}] ({type(source).__name__})" for i, source in enumerate(self.sources)]
        for source, label in zip(self.sources, self.labels, strict=True):
            _check_tiles_agree(source.tiles, tiles, label)
        for source in self.sources:
            source.tiles = tiles

    def build_dataset(self, split: Split) -> ConcatPairedTileDataset:
        """Every source's ``split``, one after the other (a source may have no tile in it)."""
        parts = []
        for source in self.sources:
            part = source.build_dataset(split)
            part.limit(source.max_samples if split == "train" else source.max_eval_samples)
            parts.append(part)
        logger.info(
            "%s %s split: %s",
            type(self).__name__,
            split,
            ", ".join(f"{label}: {len(part)}" for label, part in zip(self.labels, parts, strict=True)),
        )
        options = self.tiles
        if split != "train" and self.eval_tile_size is not None:
            options = dataclasses.replace(options, tile_size=self.eval_tile_size)
        return ConcatPairedTileDataset(parts, self.labels, options, random_crop=split == "train")


def _same(a: object, b: object) -> bool:
    nan = lambda v: isinstance(v, float) and math.isnan(v)  # NaN nodata values are one setting
    return a == b or (nan(a) and nan(b))


def _check_tiles_agree(source: TileOptions, combined: TileOptions, label: str) -> None:
    """Check that every field ``source`` sets away from its default equals ``combined``'s.

    Raises:
        ValueError: For the first field that differs; the message names ``label`` and the field.
    """
    default = TileOptions()
    for field in dataclasses.fields(TileOptions):
        value, wanted = getattr(source, field.name), getattr(combined, field.name)
        if not _same(value, getattr(default, field.name)) and not _same(value, wanted):
            msg = (
                f"{label}: tiles.{field.name}={value!r} contradicts the combined module's "
                f"tiles.{field.name}={wanted!r}; set it on the combined module only"
            )
            raise ValueError(msg)
