"""A training sampler whose order depends only on (seed, epoch), so a resumed run sees the same data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ResumableRandomSampler(Sampler[int]):
    """Shuffle once per epoch from ``(seed, epoch)``; can start an epoch part-way through.

    Lightning calls :meth:`set_epoch` before each training epoch. When a run resumes from a
    checkpoint written mid-epoch, :class:`~axion_terratorch.SARGroundingTask` calls :meth:`skip`
    with the number of samples already seen in that epoch, so the resumed run trains on exactly the
    batches the uninterrupted run would have (torch's ``RandomSampler`` draws from the global RNG,
    whose state a checkpoint does not keep).

    Args:
        data_source: The dataset (only its length is used).
        seed: Seed of the order.
        repeats: Passes over the dataset per epoch, each in its own order (for a few large tiles
            whose random crops differ at every read).
    """

    def __init__(self, data_source: Sized, seed: int = 0, repeats: int = 1) -> None:
        if repeats < 1:
            msg = f"repeats must be >= 1, got {repeats}"
            raise ValueError(msg)
        self.size = len(data_source)
        self.num_samples = self.size * repeats
        self.seed = seed
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the order of ``epoch``."""
        self.epoch = epoch

    def skip(self, num_samples: int) -> None:
        """Start the next iteration ``num_samples`` into the epoch's order (once)."""
        self._skip = num_samples

    def __iter__(self) -> Iterator[int]:
        state = np.random.SeedSequence([self.seed, self.epoch]).generate_state(2)
        generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
        passes = [
            torch.randperm(self.size, generator=generator)
            for _ in range(self.num_samples // max(self.size, 1))
        ]
        order = torch.cat(passes)[self._skip :] if passes else torch.empty(0, dtype=torch.long)
        self._skip = 0
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


def resumable_train_loader(
    dataset: Dataset[Any],
    batch_size: int,
    num_workers: int,
    seed: int,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    repeats: int = 1,
) -> DataLoader[Any]:
    """Training loader over ``dataset`` with a :class:`ResumableRandomSampler` (``repeats`` passes per
    epoch), last partial batch dropped."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ResumableRandomSampler(dataset, seed, repeats),  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=True,
        persistent_workers=num_workers > 0,
    )
