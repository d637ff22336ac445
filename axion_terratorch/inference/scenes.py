"""``predict_scenes``: ground a scene list on Lightning's predict loop (one or many processes).

The model of a checkpoint is wrapped in :class:`GroundingPredictor`; the scenes' windows come from
:class:`~axion_terratorch.datamodules.scenes.SceneListDataModule` and are written by
:class:`~axion_terratorch.callbacks.scene_writer.SceneWriter`. ``accelerator``, ``devices``,
``num_nodes`` and ``strategy`` go to the ``Trainer``: ``devices=2, strategy="ddp"`` runs two
processes (gloo on the CPU), each grounding every second scene.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from torch import Tensor, nn

from axion_terratorch.callbacks.scene_writer import SceneWriter
from axion_terratorch.checkpoints.loading import load_model, set_timesteps
from axion_terratorch.constants import PathLike
from axion_terratorch.datamodules.scenes import SceneListDataModule
from axion_terratorch.inference.scene import InferencePrecision, autocast

logger = logging.getLogger(__name__)


class GroundingPredictor(pl.LightningModule):
    """A grounding model on Lightning's predict loop: ``predict_step`` runs it on ``batch["image"]``
    under ``torch.autocast`` to ``precision`` (as single-scene ``predict`` does).

    Args:
        model: Maps ``{"S1GRD": (B, 2, h, w) dB, "S2L2A": (B, C, h, w) reflectance}`` to ``(B, C, h, w)``.
        precision: ``"32"``, ``"16"`` or ``"bf16"``.
    """

    def __init__(self, model: nn.Module, precision: InferencePrecision = "32") -> None:
        super().__init__()
        self.model = model
        self.precision = precision

    @property
    def bands(self) -> tuple[str, ...]:
        """The model's optical bands."""
        bands = getattr(self.model, "bands", None)
        if bands is None:
            msg = f"{type(self.model).__name__} does not say its optical bands (a `bands` attribute)"
            raise ValueError(msg)
        return tuple(bands)

    def predict_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Grounded windows ``(B, C, h, w)`` of one batch."""
        with autocast(self.device.type, self.precision):
            return self.model(batch["image"])


def predict_scenes(
    checkpoint: PathLike,
    datamodule: SceneListDataModule,
    writer: SceneWriter,
    config: PathLike | None = None,
    accelerator: str = "cpu",
    devices: int | str | list[int] = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
) -> dict[str, Any] | None:
    """Ground every scene of ``datamodule`` with the model of ``checkpoint``; return the run report.

    Args:
        checkpoint: A ``SARGroundingTask`` checkpoint (``terratorch fit``).
        datamodule: The scene list; its ``bands`` are set to the model's.
        writer: Where and how the scenes are written (its ``checkpoint`` is set to ``checkpoint``).
        config: Run YAML to rebuild the model when the checkpoint has no model config.
        accelerator: Lightning accelerator (``cpu``, ``gpu``, ``auto``).
        devices: Devices per node (an int, ``"auto"``, or a list of device indexes).
        num_nodes: Machines.
        strategy: Lightning strategy (``ddp`` for several processes).

    Returns:
        The report written to ``run.json`` (``None`` on ranks other than 0).
    """
    model = load_model(checkpoint, config)
    set_timesteps(model, writer.timesteps)
    module = GroundingPredictor(model, writer.precision)
    datamodule.bands = module.bands
    writer.checkpoint = Path(checkpoint)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[writer],
    )
    trainer.predict(module, datamodule=datamodule, return_predictions=False)
    return writer.report
