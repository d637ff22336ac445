"""Base data modules: one dataset per split (:class:`SplitDataModule`), real paired tiles
(:class:`PairedTileDataModule`: caps, training augmentation, bad-tile counts) and paired tiles
known by name (:class:`NamedTileDataModule`: list-file, sidecar or ratio splits).

The concrete data modules take their own arguments (``root``, patterns ...) and pass the rest on
with ``**kwargs`` to these constructors, which jsonargparse follows: ``terratorch fit --print_config``
and the YAML ``init_args`` list every argument, typed and documented, once.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import NonGeoDataModule

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.compat.lightning import batches_ready
from axion_terratorch.datamodules.augmentation import JointFlipRotate
from axion_terratorch.datamodules.bad_tiles import BadTileReport
from axion_terratorch.datamodules.sampling import resumable_train_loader
from axion_terratorch.datamodules.splits import Split, assign_splits
from axion_terratorch.datasets.options import TileOptions
from axion_terratorch.datasets.tiles import BAD_TILES_KEY, PairedTileDataset
from axion_terratorch.missing_inputs import check_cli_run

logger = logging.getLogger(__name__)

Batch = dict[str, Tensor | dict[str, Tensor]]


class SplitDataModule(NonGeoDataModule, abc.ABC):
    """One dataset per split, handed to each Lightning stage, and resumable training batches.

    :meth:`setup` assigns what a stage needs from :meth:`split_dataset`: fit -> train and val,
    validate -> val, test -> test, predict -> the test split. The training loader shuffles in an
    order fixed by ``seed`` and the epoch, so a resumed run sees the same batches
    (:mod:`~axion_terratorch.datamodules.sampling`). torchgeo's default ``aug`` (normalisation of
    ``batch["image"]`` as one tensor) is not used: ``batch["image"]`` is a modality dict, and the
    models standardise their inputs.

    Args:
        dataset_class: Class of the datasets (recorded by torchgeo's ``NonGeoDataModule``).
        batch_size: Tiles per batch (the training loader drops the last incomplete batch).
        num_workers: DataLoader worker processes.
        train_repeats: Passes over the training tiles per epoch.

    Raises:
        ValueError: If an argument is out of range; the message names it.
    """

    #: Seed of the training order (subclasses set it).
    seed: int

    def __init__(
        self, dataset_class: type[Dataset[Any]], batch_size: int, num_workers: int, train_repeats: int = 1
    ) -> None:
        check_cli_run()  # under terratorch's CLI: every missing input on one line, before any scan
        check_at_least(1, {"batch_size": batch_size, "train_repeats": train_repeats})
        check_at_least(0, {"num_workers": num_workers})
        super().__init__(dataset_class, batch_size=batch_size, num_workers=num_workers)
        self.aug = None
        self.train_repeats = train_repeats

    def keep_arguments(self, **arguments: object) -> None:
        """Keep a subclass's own ``__init__`` arguments as attributes of the same names, after the
        base constructor: ``self.keep_arguments(root=root, download=download)``."""
        for name, value in arguments.items():
            setattr(self, name, value)

    @abc.abstractmethod
    def split_dataset(self, split: Split) -> Dataset[Any]:
        """The dataset of ``split``."""

    def setup(self, stage: str) -> None:
        """Assign the datasets ``stage`` needs: fit -> train, val; validate -> val; test, predict -> test.

        Raises:
            ValueError: If ``stage`` is not one of ``fit``, ``validate``, ``test``, ``predict``, or
                (real tiles) a split is empty.
            BadTileError: With ``on_bad_tile: error``, for the first bad tile found at setup.
        """
        match stage:
            case "fit":
                self.train_dataset = self.split_dataset("train")
                self.val_dataset = self.split_dataset("val")
            case "validate":
                self.val_dataset = self.split_dataset("val")
            case "test":
                self.test_dataset = self.split_dataset("test")
            case "predict":
                self.predict_dataset = self.split_dataset("test")
            case _:
                msg = f"stage must be one of 'fit', 'validate', 'test', 'predict', got {stage!r}"
                raise ValueError(msg)

    def train_dataloader(self) -> DataLoader[Batch]:
        """Shuffled training batches in an order fixed by ``seed`` and the epoch (resumable)."""
        return resumable_train_loader(
            self.train_dataset,
            self.batch_size,
            self.num_workers,
            self.seed,
            self.collate_fn,
            self.train_repeats,
        )


class PairedTileDataModule(SplitDataModule):
    """Train/val/test loaders over a source of paired tiles; subclasses build each split's dataset.

    Batches (``default_collate`` of :class:`PairedTileDataset` samples)::

        {"image": {"S1GRD": float32 (B, 2, S, S) dB, "S2L2A": float32 (B, C, S, S) reflectance},
         "target": float32 (B, C, S, S) reflectance, "valid_mask": bool (B, 1, S, S),
         "error_mask": float32 (B, 1, S, S) in [0, 1] (``tiles.stage2_errors``), "filename": [str]}

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
        tiles: TileOptions = TileOptions(),  # noqa: B008 - frozen dataclass
        batch_size: int = 8,
        num_workers: int = 0,
        augment: bool = True,
        max_samples: int | None = None,
        max_eval_samples: int | None = None,
        train_repeats: int = 1,
    ) -> None:
        check_at_least(1, {"max_samples": max_samples, "max_eval_samples": max_eval_samples}, " or None")
        if self.uses_tiles_stage2():
            tiles.check_stage2_input()
        super().__init__(PairedTileDataset, batch_size, num_workers, train_repeats)
        self.tiles = tiles
        self.train_aug = JointFlipRotate() if augment else None
        self.max_samples = max_samples
        self.max_eval_samples = max_eval_samples
        self.bad_tile_counts: dict[str, int] = {}

    @abc.abstractmethod
    def build_dataset(self, split: Split) -> PairedTileDataset:
        """The dataset of ``split`` (random crops for ``train``)."""

    def uses_tiles_stage2(self) -> bool:
        """Whether ``tiles`` must give the Stage 2 input (``stage2_dir`` or ``stage2_proxy``).

        ``True`` here; a source that reads each tile's Stage 2 input itself returns ``False``
        (called in ``__init__``: subclasses set what it reads before calling ``super().__init__``).
        """
        return True

    @property
    def seed(self) -> int:
        """Seed of the training order and augmentation: ``tiles.seed``."""
        return self.tiles.seed

    @property
    def bands(self) -> tuple[str, ...]:
        """Optical bands of the input and target: ``tiles.bands`` (checked against the model's)."""
        return tuple(self.tiles.bands)

    def split_dataset(self, split: Split) -> PairedTileDataset:
        """:meth:`build_dataset` capped by ``max_samples`` / ``max_eval_samples``.

        Raises:
            ValueError: If the split has no tile.
        """
        dataset = self.build_dataset(split)
        dataset.limit(self.max_samples if split == "train" else self.max_eval_samples)
        if len(dataset) == 0:
            msg = f"{type(self).__name__}: the {split} split has no tile; check the data paths and splits"
            raise ValueError(msg)
        logger.info("%s: %d %s tiles", type(self).__name__, len(dataset), split)
        return dataset

    def configure_callbacks(self) -> list[Callback]:
        """Callbacks this data module needs: :class:`BadTileReport` with ``on_bad_tile: skip``.

        Named after ``LightningModule.configure_callbacks``; ``SARGroundingTask.configure_callbacks``
        returns them, so the trainer runs them without the data module touching it. With another
        task, list ``BadTileReport`` under ``trainer.callbacks``.
        """
        return [BadTileReport()] if self.tiles.on_bad_tile == "skip" else []

    def _split(self) -> str:
        trainer = self.trainer
        if trainer is None or trainer.training:
            return "train"
        if trainer.validating or trainer.sanity_checking:
            return "val"
        return "test" if trainer.testing else "predict"

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
            step = batches_ready(self.trainer)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(np.random.SeedSequence([self.tiles.seed, step]).generate_state(1)[0]))
                batch = self.train_aug(batch)
        return batch


class NamedTileDataModule(PairedTileDataModule):
    """Paired tiles known by name, split by ``split_files``, else JSON sidecars, else a seeded ratio.

    Subclasses find their tiles in ``__init__`` and call :meth:`assign_splits` with their names
    (see :func:`~axion_terratorch.datamodules.splits.assign_splits`).

    Args:
        split_files: ``{train: list.txt, val: ..., test: ...}``: tile names per split.
        val_ratio: Fraction of tiles for validation (ratio split).
        test_ratio: Fraction of tiles for test (ratio split).
        split_seed: Seed of the ratio split.
        **kwargs: The arguments of :class:`PairedTileDataModule` (``tiles``, ``batch_size`` ...).
    """

    def __init__(
        self,
        split_files: dict[Split, str] | None = None,
        val_ratio: float = 0.1,
        test_ratio: float = 0.1,
        split_seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keep_arguments(
            split_files=split_files, val_ratio=val_ratio, test_ratio=test_ratio, split_seed=split_seed
        )
        self.splits: dict[str, list[str]] = {}

    def assign_splits(
        self,
        names: list[str],
        sidecars: Mapping[str, str | None] | None = None,
        group: Callable[[str], str] | None = None,
    ) -> None:
        """Set :attr:`splits` of ``names`` (sorted) from the list files, the ``sidecars`` or the ratio.

        ``group``: tiles of the same ``group(name)`` stay in one split of the ratio split.

        Raises:
            ValueError: If a split cannot be assigned (unknown ``split_files`` key, sidecars on only
                some tiles, ratios out of range); the message names it.
        """
        self.splits = assign_splits(
            sorted(names),
            sidecars or {},
            self.split_files,
            self.val_ratio,
            self.test_ratio,
            self.split_seed,
            group,
        )
