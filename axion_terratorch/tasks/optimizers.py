"""The optimizer and learning-rate scheduler of :class:`~axion_terratorch.tasks.SARGroundingTask`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from terratorch.tasks.optimizer_factory import optimizer_factory
from torch import nn

from axion_terratorch.config import import_object


def configure_optimizer(
    params: list[nn.Parameter],
    optimizer: str,
    lr: float,
    optimizer_hparams: dict[str, Any] | None,
    scheduler: str | None,
    scheduler_hparams: dict[str, Any] | None,
    monitor: str,
    total_steps: Callable[[], int],
) -> Any:
    """The optimizer over ``params``, with an optional scheduler, as ``configure_optimizers`` returns it.

    The optimizer comes from terratorch's ``optimizer_factory``, and so does the scheduler when
    ``scheduler`` is a ``torch.optim.lr_scheduler`` name (terratorch's convention, including its
    ``SequentialLR`` form). An import path of a scheduler class, e.g.
    ``axion_terratorch.schedulers.WarmupCosineLR``, is built here, because only here is the
    run's length known: a class with a ``total_steps`` argument that ``scheduler_hparams``
    leaves out gets ``total_steps()``, the run's number of optimizer steps.
    """
    named = scheduler is None or "." not in scheduler
    config = optimizer_factory(
        optimizer, lr, params, optimizer_hparams, scheduler if named else None, monitor, scheduler_hparams
    )
    if named:
        return config
    built = config["optimizer"]
    hparams = dict(scheduler_hparams or {})
    interval = hparams.pop("interval", "epoch")
    scheduler_class = import_object(scheduler)
    if "total_steps" in inspect.signature(scheduler_class).parameters and "total_steps" not in hparams:
        hparams["total_steps"] = total_steps()
    return {
        "optimizer": built,
        "lr_scheduler": {
            "scheduler": scheduler_class(built, **hparams),
            "interval": interval,
            "monitor": monitor,
        },
    }
