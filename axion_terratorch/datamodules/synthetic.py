"""Data module over :class:`~axion_terratorch.datasets.SyntheticGroundingDataset` (demo, tests)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import Literal

import numpy as np
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.datamodules.sampling import resumable_train_loader
from axion_terratorch.datasets.synthetic import SyntheticGroundingDataset

logger = logging.getLogger(__name__)

Batch = dict[str, Tensor | dict[str, Tensor]]


def split_seed(seed: int, split: str) -> int:
    """Fold a split name into ``seed``: the seed of that split's dataset (deterministic across runs)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(split.encode())]).generate_state(1)[0])


class SyntheticGroundingDataModule(NonGeoDataModule):
    """Train/val/test splits of synthetic S1/S2 grounding scenes.

    The splits are disjoint by seeding: each split's dataset gets ``split_seed(seed, split)``.
    The predict split is the test split. Batches come from torch's ``default_collate``::

        {"image": {"S1GRD": float32 (B, 2, H, W) dB, "S2L2A": float32 (B, C, H, W) reflectance},
         "target": float32 (B, C, H, W) reflectance, "valid_mask": bool (B, 1, H, W)}

    There is no batch augmentation or normalisation: torchgeo's default ``aug`` normalises
    ``batch["image"]`` as one tensor, which a modality dict is not, so ``aug`` is ``None`` and batches
    pass through :meth:`on_after_batch_transfer` unchanged. The models standardise their inputs; the
    real-data modules add flips and rotations (:class:`~axion_terratorch.datamodules.augmentation.JointFlipRotate`).
    Training batches come in an order fixed by ``seed`` and the epoch, so a resumed run sees the same
    batches (:mod:`~axion_terratorch.datamodules.sampling`).

    Args:
        num_train: Number of training tiles.
        num_val: Number of validation tiles.
        num_test: Number of test (and predict) tiles.
        tile_size: Tile height and width in pixels (>= 16).
        bands: Sentinel-2 L2A bands of the optical input and target.
        batch_size: Tiles per batch (the training loader drops the last incomplete batch).
        num_workers: DataLoader worker processes.
        seed: Non-negative base seed of all splits.
        nodata_fraction: Fraction of each tile covered by a nodata rectangle, in ``[0, 1)``.
        task: ``grounding`` (Stage 3 batches) or ``segmentation`` (land-cover ``mask`` batches for
            terratorch's ``SemanticSegmentationTask``, see the dataset).

    Raises:
        ValueError: If an argument is out of range; the message names it and its value.
    """

    def __init__(
        self,
        num_train: int = 64,
        num_val: int = 16,
        num_test: int = 16,
        tile_size: int = 64,
        bands: Sequence[str] = DEFAULT_BANDS,
        batch_size: int = 4,
        num_workers: int = 0,
        seed: int = 0,
        nodata_fraction: float = 0.0,
        task: Literal["grounding", "segmentation"] = "grounding",
    ) -> None:
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
            if value < 1:
                msg = f"{name} must be >= 1, got {value}"
                raise ValueError(msg)
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise ValueError(msg)
        if num_workers < 0:
            msg = f"num_workers must be >= 0, got {num_workers}"
            raise ValueError(msg)
        if seed < 0:
            msg = f"seed must be >= 0, got {seed}"
            raise ValueError(msg)
        super().__init__(SyntheticGroundingDataset, batch_size=batch_size, num_workers=num_workers)
        self.aug = None
        self.seed = seed
        self.split_datasets = {
            split: SyntheticGroundingDataset(
                num_samples=count,
                tile_size=tile_size,
                bands=bands,
                seed=split_seed(seed, split),
                nodata_fraction=nodata_fraction,
                task=task,
            )
            for split, count in (("train", num_train), ("val", num_val), ("test", num_test))
        }

    def setup(self, stage: str) -> None:
        """Assign the datasets ``stage`` needs: fit -> train, val; validate -> val; test, predict -> test.

        Raises:
            ValueError: If ``stage`` is not one of ``fit``, ``validate``, ``test``, ``predict``.
        """
        match stage:
            case "fit":
                self.train_dataset = self.split_datasets["train"]
                self.val_dataset = self.split_datasets["val"]
            case "validate":
                self.val_dataset = self.split_datasets["val"]
            case "test":
                self.test_dataset = self.split_datasets["test"]
            case "predict":
                self.predict_dataset = self.split_datasets["test"]
            case _:
                msg = f"stage must be one of 'fit', 'validate', 'test', 'predict', got {stage!r}"
                raise ValueError(msg)
        logger.debug("synthetic data set up for stage %r", stage)

    def train_dataloader(self) -> DataLoader[Batch]:
        """Shuffled training batches in an order fixed by ``seed`` and the epoch (resumable)."""
        return resumable_train_loader(
            self.train_dataset, self.batch_size, self.num_workers, self.seed, self.collate_fn
        )

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """Return ``batch`` unchanged (no device-side augmentation, see the class docstring)."""
        return batch
