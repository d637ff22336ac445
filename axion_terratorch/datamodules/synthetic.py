"""Data module over :class:`~axion_terratorch.datasets.SyntheticGroundingDataset` (demo, tests)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.datamodules.base import Batch, SplitDataModule
from axion_terratorch.datamodules.splits import Split
from axion_terratorch.datasets.synthetic import SyntheticGroundingDataset, SyntheticTask


def split_seed(seed: int, split: str) -> int:
    """Fold a split name into ``seed``: the seed of that split's dataset (deterministic across runs)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(split.encode())]).generate_state(1)[0])


class SyntheticGroundingDataModule(SplitDataModule):
    """Train/val/test splits of synthetic S1/S2 grounding scenes.

    The splits are disjoint by seeding: each split's dataset gets ``split_seed(seed, split)``.
    The predict split is the test split. Batches come from torch's ``default_collate``::

        {"image": {"S1GRD": float32 (B, 2, H, W) dB, "S2L2A": float32 (B, C, H, W) reflectance},
         "target": float32 (B, C, H, W) reflectance, "valid_mask": bool (B, 1, H, W),
         "error_mask": float32 (B, 1, H, W) zeros (no structural errors in the synthetic estimate)}

    There is no batch augmentation or normalisation (see :class:`SplitDataModule`): batches pass
    through :meth:`on_after_batch_transfer` unchanged; the real-data modules add flips and rotations
    (:class:`~axion_terratorch.datamodules.augmentation.JointFlipRotate`). Stages get their splits and
    training batches their resumable order as in :class:`SplitDataModule`.

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
        task: SyntheticTask = "grounding",
    ) -> None:
        check_at_least(1, {"num_train": num_train, "num_val": num_val, "num_test": num_test})
        check_at_least(0, {"seed": seed})
        super().__init__(SyntheticGroundingDataset, batch_size, num_workers)
        self.seed = seed
        #: Optical bands of the input and target (checked against the model's by the task).
        self.bands = tuple(bands)
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

    def split_dataset(self, split: Split) -> SyntheticGroundingDataset:
        """The dataset of ``split``, built at construction."""
        return self.split_datasets[split]

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """Return ``batch`` unchanged (no device-side augmentation, see the class docstring)."""
        return batch
