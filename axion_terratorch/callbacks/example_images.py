"""Example images during validation: SAR, Stage 2 input, grounded output, target and edge maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.image import imsave

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY, rgb_indices
from axion_terratorch.panels import Tile, render_panel


class ExampleImages(Callback):
    """Render the first validation tiles as panels, to TensorBoard and as PNG files.

    On every ``every_n_validations``-th validation (sanity checks excluded) the first ``num_tiles``
    tiles of the validation set (the same tiles each time: validation loaders do not shuffle) are
    run through the model once more and drawn as :func:`~axion_terratorch.panels.render_panel`
    panels: SAR, Stage 2 input, grounded output and target (when the batch has one) in RGB over
    their edge maps. Each panel goes to every attached TensorBoard logger as image
    ``val/examples/tile_{i}`` at the step of the validation's ``val/*`` scalars (:func:`logged_step`),
    and to ``<dir>/step_{step:06d}_tile_{i}.png`` (written atomically), ``<dir>`` being ``save_dir``
    or ``<trainer.log_dir>/examples``. Every process runs the extra forward on its first tiles (so
    sharded models such as FSDP stay in step); only the global-zero process draws and writes, so
    under DDP the tiles are the first of rank 0's shard of the validation set.

    The task must have ``bands`` (with B04, B03, B02) and ``target_key``, as
    :class:`~axion_terratorch.SARGroundingTask` has. To turn the images off, leave the callback out.

    Args:
        num_tiles: Number of tiles (>= 1).
        every_n_validations: Draw on validations ``n, 2n, 3n, ...`` (>= 1; 1 = every validation).
        save_dir: Folder of the PNG files; default ``<trainer.log_dir>/examples``.

    Raises:
        ValueError: If ``num_tiles`` or ``every_n_validations`` is below 1, or (at setup) the task's
            bands lack red, green or blue.
    """

    def __init__(self, num_tiles: int = 4, every_n_validations: int = 1, save_dir: str | None = None) -> None:
        check_at_least(
            1,
            {"num_tiles": num_tiles, "every_n_validations": every_n_validations},
            hint=" (to turn example images off, leave the callback out)",
        )
        self.num_tiles = num_tiles
        self.every_n_validations = every_n_validations
        self.save_dir = save_dir
        self.validations = 0
        self._dir: Path | None = None
        self._tiles: list[Tile] = []
        self._drawing = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Check the bands and resolve the PNG folder (on every process: ``log_dir`` broadcasts)."""
        rgb_indices(pl_module.bands)
        if self.save_dir is not None:
            self._dir = Path(self.save_dir)
        else:
            self._dir = Path(trainer.log_dir or trainer.default_root_dir) / "examples"

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Decide whether this validation draws."""
        self._tiles = []
        due = (self.validations + 1) % self.every_n_validations == 0
        self._drawing = due and not trainer.sanity_checking

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: dict[str, Any],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the tiles still missing from this batch, with the model's output for them."""
        missing = self.num_tiles - len(self._tiles)
        if not self._drawing or dataloader_idx != 0 or missing <= 0:
            return
        image = {key: value[:missing] for key, value in batch["image"].items()}
        with torch.no_grad(), trainer.precision_plugin.forward_context():
            output = pl_module(image)
        target = batch.get(pl_module.target_key)
        for i in range(output.shape[0]):
            self._tiles.append(
                Tile(
                    sar=_array(image[SAR_KEY][i]),
                    optical=_array(image[OPTICAL_KEY][i]),
                    output=_array(output[i]),
                    target=None if target is None else _array(target[i]),
                )
            )

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Draw the kept tiles, log them to TensorBoard and write the PNG files."""
        if trainer.sanity_checking:
            return
        self.validations += 1
        tiles, self._tiles = self._tiles, []
        if not (self._drawing and trainer.is_global_zero) or self._dir is None:
            return
        rgb = rgb_indices(pl_module.bands)
        step = logged_step(trainer)
        tensorboards = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        for i, tile in enumerate(tiles):
            pixels = render_panel(tile, rgb, title=f"step {step}, validation tile {i}")
            with atomic_path(self._dir / f"step_{step:06d}_tile_{i}.png") as tmp:
                imsave(tmp, pixels, format="png")
            for logger in tensorboards:
                logger.experiment.add_image(f"val/examples/tile_{i}", pixels, step, dataformats="HWC")

    def state_dict(self) -> dict[str, Any]:
        """The number of validations seen, saved in checkpoints."""
        return {"validations": self.validations}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the validation count on resume."""
        self.validations = state_dict["validations"]


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def logged_step(trainer: pl.Trainer) -> int:
    """The step Lightning logs this validation's scalars at, so panels and scalars line up.

    During ``fit`` validation runs after the optimizer step of its batch has counted
    (``global_step`` = N) but before the loggers' step advances, so ``val/*`` scalars are logged at
    N - 1; a standalone ``validate`` logs at ``global_step``.
    """
    fitting = trainer.state.fn == "fit"
    return max(trainer.global_step - 1, 0) if fitting else trainer.global_step
