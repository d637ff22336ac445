"""Resuming a fit mid-epoch: the resumed epoch starts where the interrupted one stopped."""

from __future__ import annotations

from lightning.pytorch import Trainer

from axion_terratorch.compat.lightning import batches_processed_in_epoch


def skip_trained_batches(trainer: Trainer) -> None:
    """After resuming from a mid-epoch checkpoint, skip the batches that epoch already trained on.

    Applies to training loaders whose sampler has ``skip`` (the project's data modules use
    :class:`~axion_terratorch.datamodules.sampling.ResumableRandomSampler`): their order depends
    only on the seed and the epoch, so the resumed run sees the batches the interrupted one would
    have seen next.
    """
    done = batches_processed_in_epoch(trainer)
    loader = trainer.train_dataloader
    sampler = getattr(loader, "sampler", None)
    if 0 < done < trainer.num_training_batches and hasattr(sampler, "skip"):
        sampler.skip(done * loader.batch_size)
