"""A training sampler whose order depends only on (seed, epoch), so a resumed run sees the same data.

Why not torchdata's ``StatefulDataLoader`` (whose state Lightning saves): resumed mid-epoch under
Lightning, it does not give back the uninterrupted run's batches and draws in every case (with
0 workers the next epoch's order differs; its ``RandomSampler`` carries no per-sample seed; with this
sampler inside it the resumed epoch takes the first epoch's order). Measured in docs/experiments.md,
"Resuming mid-epoch".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.datasets.windows import SampleIndex


class ResumableRandomSampler(Sampler[int]):
    """Shuffle once per epoch from ``(seed, epoch)``; can start an epoch part-way through.

    Lightning calls :meth:`set_epoch` before each training epoch. Each index comes as a
    :class:`~axion_terratorch.datasets.windows.SampleIndex` carrying a seed for the sample's random
    crop, drawn from ``(seed, epoch, position)``, so crops do not depend on the global random state. When a run resumes from a
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
        check_at_least(1, {"repeats": repeats})
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
        order = torch.cat(passes) if passes else torch.empty(0, dtype=torch.long)
        draw_seeds = np.random.SeedSequence([self.seed, self.epoch, 1]).generate_state(len(order), np.uint64)
        start, self._skip = self._skip, 0
        return (
            SampleIndex(index, int(seed) >> 1)
            for index, seed in zip(order.tolist()[start:], draw_seeds[start:].tolist(), strict=True)
        )

    def __len__(self) -> int:
        return self.num_samples


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` over a :class:`ResumableRandomSampler` that Lightning checkpoints (``state_dict``).

    Lightning stores the state of a training loader that has ``state_dict``/``load_state_dict`` in
    the checkpoint and hands it back on resume. The order needs no state beyond the seed and the
    epoch; the position within an interrupted epoch is taken from the trainer's progress by
    :meth:`~axion_terratorch.SARGroundingTask.on_train_start` (a loader cannot count the batches the
    trainer consumed, as Lightning fetches ahead). The state records the sampler's seed, tile count
    and repeats, so a resume over other data or another seed is reported instead of silently
    training on another order.
    """

    def state_dict(self) -> dict[str, int]:
        """Seed, epoch, tile count and passes per epoch of the sampler (empty when Lightning has
        wrapped it for distributed training)."""
        sampler = self.sampler
        if not isinstance(sampler, ResumableRandomSampler):
            return {}
        return {
            "seed": sampler.seed,
            "epoch": sampler.epoch,
            "size": sampler.size,
            "num_samples": sampler.num_samples,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Warn when the checkpoint's order came from another seed or another training set."""
        now = self.state_dict()
        if not now or not state:
            return
        changed = {
            key: (state[key], now[key])
            for key in ("seed", "size", "num_samples")
            if state.get(key) != now[key]
        }
        if changed:
            warnings.warn(
                f"resuming with another training order than the checkpoint's: {changed} (checkpoint, now); "
                "the batches after resuming differ from those of an uninterrupted run",
                UserWarning,
                stacklevel=2,
            )


def resumable_train_loader(
    dataset: Dataset[Any],
    batch_size: int,
    num_workers: int,
    seed: int,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    repeats: int = 1,
) -> ResumableDataLoader:
    """Training loader over ``dataset`` with a :class:`ResumableRandomSampler` (``repeats`` passes per
    epoch), last partial batch dropped; Lightning keeps its state in checkpoints."""
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ResumableRandomSampler(dataset, seed, repeats),  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=collate_fn,
        drop_last=True,
        persistent_workers=num_workers > 0,
    )
