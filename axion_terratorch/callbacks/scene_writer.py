"""``SceneWriter``: blend the predicted windows of a scene list into one GeoTIFF and sidecar per scene.

The prediction writer of a ``SceneListDataModule`` on Lightning's predict loop: the blending, fallback
and atomic writes of single-scene ``predict`` (bit-identical outputs), finished scenes skipped, failing
ones recorded, the run report written by rank 0 (``docs/inference.md``, "Many scenes").
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import rasterio
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from rasterio.errors import RasterioError
from tqdm.auto import tqdm

from axion_terratorch.compat.lightning import return_no_predictions
from axion_terratorch.compat.terratorch import is_batch_writer
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY, PathLike
from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.scene_list import SceneEntry
from axion_terratorch.datasets.tiling import Window
from axion_terratorch.errors import one_line
from axion_terratorch.inference.pipeline import input_options
from axion_terratorch.inference.quality import QualityCheck
from axion_terratorch.inference.run_report import report_row, run_report, write_quicklook, write_run_report
from axion_terratorch.inference.scene import (
    Fallback,
    GroundingOptions,
    InferencePrecision,
    SceneAccumulator,
    WindowBatch,
)
from axion_terratorch.inference.scene_list_run import expected_key, finished_sidecar, scene_rank
from axion_terratorch.inference.sidecar import grounded_files, prediction_sidecar, sidecar_path
from axion_terratorch.inference.statistics import SceneStatistics, optional_lpips
from axion_terratorch.output_files import check_outputs, dump_json, file_sha256

logger = logging.getLogger(__name__)

OnError = Literal["skip", "stop"]
_INPUT_ERRORS = (SceneInputError, ValueError, OSError, RasterioError)


class SceneFailedError(RuntimeError):
    """A scene failed and ``on_error="stop"`` was asked for."""


@dataclasses.dataclass
class _OpenScene:
    index: int
    scene: SceneInputs
    output: Path
    stack: contextlib.ExitStack
    accumulator: SceneAccumulator
    sidecar_tmp: Path
    started: float
    bar: Any


class SceneWriter(BasePredictionWriter):
    """Write each scene of a :class:`~axion_terratorch.datamodules.scenes.SceneListDataModule` to
    ``<output_dir>/<name>.tif`` and its sidecar ``<name>.json``, and the run report.

    The tiling (``window``, ``overlap``, ``batch_size``) and the reading of the inputs come from the
    data module; the rest of single-scene ``predict``'s options are here.

    Args:
        output_dir: Folder of the outputs, sidecars, quicklooks and ``run.csv`` / ``run.json``.
        dn: Write uint16 DN (reflectance x 10000) instead of float32 reflectance.
        precision: Recorded in the sidecars as the precision the model ran at.
        fallback: ``input``: where a window fails the quality check, write the input there.
        check: Thresholds of the quality check (default :class:`QualityCheck`).
        max_scored_blocks: Blocks scored for the sidecar's SAR agreement and LPIPS.
        lpips: Compute the LPIPS change when its weights are available.
        overwrite: Ground every scene, even one whose outputs are finished.
        on_error: ``skip``: record a failing scene and go on; ``stop``: stop the run.
        quicklook: Also write ``<name>.png`` (input, output, change, SAR) beside each output.
        progress: Progress bars over scenes and windows (rank 0).
        checkpoint: The checkpoint, recorded (with its hash) in the sidecars; default: the
            trainer's ``ckpt_path`` (``terratorch predict --ckpt_path``).
        timesteps: Diffusion steps the model was set to (recorded in the sidecars).
    """

    def __init__(
        self,
        output_dir: PathLike,
        dn: bool = False,
        precision: InferencePrecision = "32",
        fallback: Fallback = "none",
        check: QualityCheck | None = None,
        max_scored_blocks: int = 64,
        lpips: bool = True,
        overwrite: bool = False,
        on_error: OnError = "skip",
        quicklook: bool = False,
        progress: bool = True,
        checkpoint: PathLike | None = None,
        timesteps: int | None = None,
    ) -> None:
        super().__init__(write_interval="batch")
        if on_error not in ("skip", "stop"):
            msg = f"on_error must be 'skip' or 'stop', got {on_error!r}"
            raise ValueError(msg)
        self.output_dir = Path(output_dir)
        self.dn, self.precision, self.fallback = dn, precision, fallback
        self.check = QualityCheck() if check is None else check
        self.max_scored_blocks, self.lpips = max_scored_blocks, lpips
        self.overwrite, self.on_error = overwrite, on_error
        self.quicklook, self.progress = quicklook, progress
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.timesteps = timesteps
        #: Rows of this rank's scenes, by index in the list; after the run, every rank's (rank 0).
        self.rows: dict[int, dict[str, Any]] = {}
        #: ``{"scenes": rows, "totals": ...}`` as written to ``run.json`` (rank 0, after the run).
        self.report: dict[str, Any] | None = None
        self._open: _OpenScene | None = None
        self._pending: dict[int, SceneInputs] = {}
        self._gdal = contextlib.ExitStack()

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Attach to the data module, stop the predict loop from keeping predictions, and drop
        terratorch's per-batch ``.pt`` writer (this writer replaces it)."""
        if stage != "predict":
            return
        from axion_terratorch.datamodules.scenes import SceneListDataModule

        datamodule = trainer.datamodule
        if not isinstance(datamodule, SceneListDataModule):
            msg = (
                f"SceneWriter writes the scenes of a SceneListDataModule, not of {type(datamodule).__name__}"
            )
            raise TypeError(msg)
        datamodule.planner = self
        return_no_predictions(trainer)  # memory flat in the number of windows
        kept = [c for c in trainer.callbacks if not is_batch_writer(c)]
        if len(kept) != len(trainer.callbacks):
            logger.info("SceneWriter writes the predictions: terratorch's CustomWriter is left out")
            trainer.callbacks = kept
        self._trainer = trainer
        self._module = pl_module
        # one GDAL environment for the run: the scenes' own nest in it, whatever the loader reads ahead
        self._gdal.enter_context(rasterio.Env())

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Leave the run's GDAL environment."""
        self._gdal.close()

    def pending_scenes(self, datamodule: Any) -> list[tuple[int, SceneInputs]]:
        """Decide each of this rank's scenes: skipped (finished), failed (its inputs or list entry
        are refused) or pending; return the pending ones with their checked inputs.

        Raises:
            SceneFailedError: If a scene fails and ``on_error="stop"``.
        """
        trainer = self._trainer
        self.rank, world = trainer.global_rank, trainer.world_size
        self.rows, self.report = {}, None
        checkpoint = self.checkpoint or (Path(trainer.ckpt_path) if trainer.ckpt_path else None)
        self._checkpoint, self._digest = checkpoint, None if checkpoint is None else file_sha256(checkpoint)
        self._bands = tuple(datamodule.bands)
        self.options = GroundingOptions(
            window=datamodule.window,
            overlap=datamodule.overlap,
            batch_size=datamodule.batch_size,
            precision=self.precision,
            device=str(self._module.device),
            dn=self.dn,
            progress=self.progress,
            max_scored_blocks=self.max_scored_blocks,
            fallback=self.fallback,
            check=self.check,
        )
        self._input_options = input_options(
            datamodule.optical_bands,
            datamodule.optical_units,
            self.timesteps,
            datamodule.s1_units,
            datamodule.optical_nodata,
        )
        self._lpips, self._lpips_note = optional_lpips(self._bands, self.lpips)
        self._entries: list[SceneEntry] = list(datamodule.entries)
        self._datamodule = datamodule
        self.output_dir.mkdir(parents=True, exist_ok=True)
        mine = [(i, e) for i, e in enumerate(self._entries) if scene_rank(i, world) == self.rank]
        show = self.progress and self.rank == 0
        self._scene_bar = tqdm(total=len(mine), desc="scenes", unit="scene", disable=not show)
        self._pending = {}
        for index, entry in mine:
            self._plan(index, entry, datamodule)
        return sorted(self._pending.items())

    def _plan(self, index: int, entry: SceneEntry, datamodule: Any) -> None:
        output = self.output_path(entry)
        if entry.problem is not None:
            self._failed(index, entry.problem)
            return
        if not self.overwrite:
            done = finished_sidecar(
                output,
                expected_key(
                    entry,
                    self._digest,
                    self._input_options,
                    dataclasses.asdict(self.options),
                    self._lpips_note,
                ),
            )
            if done is not None:
                self._row(index, "skipped", done)
                self._scene_bar.update()
                return
        try:
            check_outputs(
                {"output": output, "sidecar": sidecar_path(output)},
                {"s1": entry.s1, "optical": entry.optical},
            )
            scene = SceneInputs(
                entry.s1,
                entry.optical,
                self._bands,
                datamodule.optical_bands,
                datamodule.optical_units,
                datamodule.s1_units,
                datamodule.optical_nodata,
            )
        except _INPUT_ERRORS as error:
            self._failed(index, one_line(error))
            return
        self._pending[index] = scene

    def output_path(self, entry: SceneEntry) -> Path:
        """``<output_dir>/<name>.tif``."""
        return self.output_dir / f"{entry.name}.tif"

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Blend one batch into its scene's output; finish the scene after its last batch."""
        index = int(batch["scene"])
        if self._open is not None and self._open.index != index:
            self._fail_open(self._reading_error(self._open.index))
        if index in self.rows:  # failed earlier in this run; its remaining windows are dropped
            return
        try:
            if self._open is None:
                self._start(index)
            assert self._open is not None
            image = batch["image"]
            windows = [Window(*map(int, w)) for w in batch["windows"].tolist()]
            arrays = (image[SAR_KEY], image[OPTICAL_KEY], batch["valid"])
            sar, optical, valid = (a.cpu().numpy() for a in arrays)
            predictions = prediction.float().cpu().contiguous().numpy()
            self._open.accumulator.add(
                WindowBatch(windows, sar, optical, valid, int(batch["covered"])), predictions
            )
            self._open.bar.update(int(batch["covered"]))
            if batch["last"]:
                self._finish()
        except _INPUT_ERRORS as error:
            if self._open is None:
                self._failed(index, one_line(error))
            else:
                self._fail_open(one_line(error), error)

    def _start(self, index: int) -> None:
        entry, scene = self._entries[index], self._pending[index]
        output = self.output_path(entry)
        stack = contextlib.ExitStack()
        try:
            output_tmp, sidecar_tmp = stack.enter_context(grounded_files(output))
            statistics = SceneStatistics(self._bands, self._lpips, self.options.device)
            accumulator = stack.enter_context(
                SceneAccumulator(scene, output_tmp, output, self.options, statistics)
            )
        except BaseException:
            stack.close()
            raise
        show = self.progress and self.rank == 0
        bar = tqdm(total=len(accumulator.layout), desc=entry.name, unit="win", leave=False, disable=not show)
        self._open = _OpenScene(
            index, scene, output, stack, accumulator, sidecar_tmp, time.perf_counter(), bar
        )

    def _finish(self) -> None:
        assert self._open is not None
        scene = self._open
        statistics = scene.accumulator.finish()
        sidecar = prediction_sidecar(
            scene.output,
            scene.scene,
            statistics,
            self.options,
            self._checkpoint,
            self._lpips_note,
            self._digest,
            self._input_options,
        )
        dump_json(scene.sidecar_tmp, sidecar)
        scene.stack.close()  # closes the files, removes the sum, renames GeoTIFF and sidecar together
        scene.bar.close()
        self._open = None
        seconds = time.perf_counter() - scene.started
        self._row(scene.index, "grounded", sidecar, windows=scene.accumulator.windows, seconds=seconds)
        self._scene_bar.update()
        logger.info("wrote %s (%s)", scene.output, sidecar["quality_flag"])
        if self.quicklook:
            try:
                write_quicklook(scene.scene, scene.output, self.dn, self._entries[scene.index].name)
            except (OSError, RasterioError, ValueError) as error:
                logger.warning("no quicklook of %s: %s", scene.output, error)

    def _fail_open(self, error: str, cause: BaseException | None = None) -> None:
        """Record the open scene as failed; its temporary files are removed."""
        scene = self._open
        if scene is None:
            return
        self._open = None
        failure = cause if cause is not None else SceneFailedError(error)
        scene.stack.__exit__(type(failure), failure, failure.__traceback__)
        scene.bar.close()
        self._failed(scene.index, error)

    def _reading_error(self, index: int) -> str:
        dataset = getattr(self._datamodule, "dataset", None)
        errors = getattr(dataset, "errors", {})
        return errors.get(index, "reading its windows stopped before the last one (see the log)")

    def _failed(self, index: int, error: str) -> None:
        self._row(index, "failed", None, error=error)
        self._scene_bar.update()
        logger.warning("scene %s failed: %s", self._entries[index].name, error)
        if self.on_error == "stop":
            self._write_report()
            msg = f"scene {self._entries[index].name} failed (--on-error stop): {error}"
            raise SceneFailedError(msg)

    def _row(
        self,
        index: int,
        status: str,
        sidecar: dict[str, Any] | None,
        windows: int | None = None,
        seconds: float | None = None,
        error: str | None = None,
    ) -> None:
        entry = self._entries[index]
        output = None if status == "failed" else self.output_path(entry)
        self.rows[index] = report_row(entry.name, status, sidecar, output, self.rank, windows, seconds, error)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Remove the open scene's temporary files (an interrupted run leaves no partial output)."""
        scene, self._open = self._open, None
        if scene is not None:
            scene.stack.__exit__(type(exception), exception, exception.__traceback__)

    def on_predict_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fail what did not finish, gather every rank's rows and write the run report (rank 0)."""
        if self._open is not None:
            self._fail_open(self._reading_error(self._open.index))
        for index in self._pending:
            if index not in self.rows:
                self._failed(index, self._reading_error(index))
        self._scene_bar.close()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[dict[int, dict[str, Any]] | None] = [None] * trainer.world_size
            torch.distributed.all_gather_object(gathered, self.rows)
            self.rows = {k: v for rows in gathered if rows for k, v in rows.items()}
        self._write_report(write=trainer.global_rank == 0)

    def _write_report(self, write: bool = True) -> None:
        rows = [self.rows[i] for i in sorted(self.rows)]
        self.report = run_report(rows, len(self._entries), self._checkpoint, self._digest)
        if write:
            write_run_report(self.output_dir, self.report)
