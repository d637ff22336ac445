"""Base data module of real paired tiles: splits, caps, training augmentation, bad-tile counts."""

from __future__ import annotations

import abc
import logging

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from axion_terratorch.datamodules.augmentation import JointFlipRotate
from axion_terratorch.datamodules.bad_tiles import BadTileReport
from axion_terratorch.datamodules.sampling import resumable_train_loader
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import BAD_TILES_KEY, PairedTileDataset

logger = logging.getLogger(__name__)

Batch = dict[str, Tensor | dict[str, Tensor]]


class PairedTileDataModule(NonGeoDataModule, abc.ABC):
    """Train/val/test loaders over a source of paired tiles; subclasses build each split's dataset.

    Batches (``default_collate`` of :class:`PairedTileDataset` samples)::

        {"image": {"S1GRD": float32 (B, 2, S, S) dB, "S2L2A": float32 (B, C, S, S) reflectance},
         "target": float32 (B, C, S, S) reflectance, "valid_mask": bool (B, 1, S, S)}

    Training tiles are random ``tile_size`` crops, then (``augment``) flipped and rotated by
    :class:`JointFlipRotate` in :meth:`on_after_batch_transfer`; validation and test tiles are
    centre crops and are not augmented. torchgeo's default ``aug`` (normalisation of
    ``batch["image"]`` as one tensor) is not used: ``batch["image"]`` is a modality dict, and the
    models standardise their inputs. The predict split is the test split.

    Args:
        tiles: Bands, units, tile size, Stage 2 input and bad-tile policy (:class:`TileOptions`).
        batch_size: Tiles per batch (the training loader drops the last incomplete batch).
        num_workers: DataLoader worker processes.
        augment: Flip and rotate training batches.
        max_samples: Use only the first ``max_samples`` training tiles (debugging).
        max_eval_samples: Use only the first ``max_eval_samples`` validation and test tiles.
        train_repeats: Passes over the training tiles per epoch (each tile gives a new random crop
            at every pass): more steps per epoch from a few large tiles.

    Raises:
        ValueError: If an argument is out of range, or ``tiles`` has no Stage 2 input; the
            message names it.
    """

    def __init__(
        self,
        tiles: TileOptions,
        batch_size: int = 8,
        num_workers: int = 0,
        augment: bool = True,
        max_samples: int | None = None,
        max_eval_samples: int | None = None,
        train_repeats: int = 1,
    ) -> None:
        if train_repeats < 1:
            msg = f"train_repeats must be >= 1, got {train_repeats}"
            raise ValueError(msg)
        for name, value in (("max_samples", max_samples), ("max_eval_samples", max_eval_samples)):
            if value is not None and value < 1:
                msg = f"{name} must be >= 1 or None, got {value}"
                raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise ValueError(msg)
        if num_workers < 0:
            msg = f"num_workers must be >= 0, got {num_workers}"
            raise ValueError(msg)
        tiles.check_stage2_input()
        super().__init__(PairedTileDataset, batch_size=batch_size, num_workers=num_workers)
        self.tiles = tiles
        self.aug = None
        self.train_aug = JointFlipRotate() if augment else None
        self.max_samples = max_samples
        self.max_eval_samples = max_eval_samples
        self.train_repeats = train_repeats
        self.bad_tile_counts: dict[str, int] = {}

    @abc.abstractmethod
    def build_dataset(self, split: Split) -> PairedTileDataset:
        """The dataset of ``split`` (random crops for ``train``)."""

    def _dataset(self, split: Split) -> PairedTileDataset:
        dataset = self.build_dataset(split)
        dataset.limit(self.max_samples if split == "train" else self.max_eval_samples)
        if len(dataset) == 0:
            msg = f"{type(self).__name__}: the {split} split has no tile; check the data paths and splits"
            raise ValueError(msg)
        logger.info("%s: %d %s tiles", type(self).__name__, len(dataset), split)
        return dataset

    def setup(self, stage: str) -> None:
        """Build the datasets ``stage`` needs: fit -> train, val; validate -> val; test, predict -> test.

        Raises:
            ValueError: If ``stage`` is unknown or a split is empty.
            BadTileError: With ``on_bad_tile: error``, for the first bad tile found at setup.
        """
        match stage:
            case "fit":
                self.train_dataset = self._dataset("train")
                self.val_dataset = self._dataset("val")
            case "validate":
                self.val_dataset = self._dataset("val")
            case "test":
                self.test_dataset = self._dataset("test")
            case "predict":
                self.predict_dataset = self._dataset("test")
            case _:
                msg = f"stage must be one of 'fit', 'validate', 'test', 'predict', got {stage!r}"
                raise ValueError(msg)
        trainer = self.trainer
        reported = trainer is None or any(isinstance(c, BadTileReport) for c in trainer.callbacks)
        if self.tiles.on_bad_tile == "skip" and not reported:
            trainer.callbacks.append(BadTileReport())

    def _split(self) -> str:
        trainer = self.trainer
        if trainer is None or trainer.training:
            return "train"
        if trainer.validating or trainer.sanity_checking:
            return "val"
        return "test" if trainer.testing else "predict"

    def train_dataloader(self) -> DataLoader[Batch]:
        """Shuffled training batches in an order fixed by ``tiles.seed`` and the epoch (resumable)."""
        return resumable_train_loader(
            self.train_dataset,
            self.batch_size,
            self.num_workers,
            self.tiles.seed,
            self.collate_fn,
            self.train_repeats,
        )

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """Count skipped bad tiles, then augment training batches (see the class docstring).

        The flips and rotations of a training batch are drawn from a generator seeded by
        ``tiles.seed`` and the trainer's batch counter, so a resumed run augments as the
        uninterrupted one would.
        """
        split = self._split()
        skipped = batch.pop(BAD_TILES_KEY, None)
        if skipped is not None:
            self.bad_tile_counts[split] = self.bad_tile_counts.get(split, 0) + int(skipped.sum())
        if self.trainer is not None and self.trainer.training and self.train_aug is not None:
            step = self.trainer.fit_loop.epoch_loop.batch_progress.total.ready
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(np.random.SeedSequence([self.tiles.seed, step]).generate_state(1)[0]))
                batch = self.train_aug(batch)
        return batch
