"""Remove the SAR information from every batch: the ablation that shows what Sentinel-1 adds."""

from __future__ import annotations

from typing import Any, Literal, get_args

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from axion_terratorch.constants import S1GRD_MEAN, SAR_KEY

AblationMode = Literal["mean", "shuffle"]


def ablate_sar(sar: Tensor, mode: AblationMode, generator: torch.Generator | None = None) -> Tensor:
    """``sar`` (B, 2, H, W) dB without its information.

    ``mean``: every pixel set to TerraMind's mean backscatter (the model's standardised input is 0);
    ``shuffle``: each tile's SAR comes from another tile of the batch (a derangement; a batch of one
    tile falls back to ``mean``), so the SAR is real but of another place.
    """
    if mode == "mean" or sar.shape[0] == 1:
        return torch.tensor(S1GRD_MEAN, dtype=sar.dtype, device=sar.device)[None, :, None, None].expand_as(
            sar
        )
    if mode != "shuffle":
        msg = f"mode must be 'mean' or 'shuffle', got {mode!r}"
        raise ValueError(msg)
    shift = int(torch.randint(1, sar.shape[0], (1,), generator=generator))
    return sar.roll(shift, dims=0)


class SARAblation(Callback):
    """Replace ``batch["image"]["S1GRD"]`` before every training, validation, test and predict step.

    The loss and metrics then see the ablated SAR too: the SAR agreement of a run with this callback
    measures agreement with a SAR the model never saw. Score against the real SAR with
    ``axion-stage3 evaluate`` (or ``benchmarks/real_pairs.py``, which does both).

    Args:
        mode: ``mean`` (constant backscatter) or ``shuffle`` (SAR of another tile of the batch).
        seed: Seed of the shuffles.
    """

    def __init__(self, mode: AblationMode = "mean", seed: int = 0) -> None:
        super().__init__()
        if mode not in get_args(AblationMode):
            msg = f"mode must be one of {list(get_args(AblationMode))}, got {mode!r}"
            raise ValueError(msg)
        self.mode = mode
        self.generator = torch.Generator().manual_seed(seed)

    def _ablate(self, batch: Any) -> None:
        image = batch["image"]
        image[SAR_KEY] = ablate_sar(image[SAR_KEY], self.mode, self.generator)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Ablate a training batch."""
        self._ablate(batch)

    def on_validation_batch_start(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Ablate a validation (also test and predict) batch."""
        self._ablate(batch)

    on_test_batch_start = on_validation_batch_start
    on_predict_batch_start = on_validation_batch_start
