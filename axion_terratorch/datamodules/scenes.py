"""A scene list on Lightning's predict loop: the windows of many Sentinel-1 / optical scene pairs.

:class:`SceneListDataModule` reads the list (:mod:`axion_terratorch.datasets.scene_list`);
:class:`SceneWindowDataset` yields each scene's windows, batched exactly as single-scene ``predict``
batches them (:func:`~axion_terratorch.datasets.scene_windows.window_batches`), scene after scene; the
:class:`~axion_terratorch.callbacks.scene_writer.SceneWriter` callback blends them into each scene's
GeoTIFF. Scenes are dealt out to ranks round-robin (:func:`~axion_terratorch.inference.scene_list_run.scene_rank`),
so each scene is read and written by exactly one process; the writer decides, when the loader is
built, which of its rank's scenes to ground (not finished yet, inputs valid).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch
from lightning.pytorch import LightningDataModule
from rasterio.errors import RasterioError
from torch.utils.data import DataLoader, IterableDataset

from axion_terratorch.constants import DEFAULT_BANDS, OpticalUnits, PathLike
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.scene_list import SceneEntry, find_scene_pairs, read_scene_csv
from axion_terratorch.datasets.scene_windows import WindowBatch, model_input, window_batches
from axion_terratorch.datasets.tiling import TileLayout
from axion_terratorch.datasets.units import S1Units

logger = logging.getLogger(__name__)


class ScenePlanner(Protocol):
    """What the data module asks, when its loader is built, for the scenes this rank grounds."""

    def pending_scenes(self, datamodule: SceneListDataModule) -> list[tuple[int, SceneInputs]]:
        """``(index in the list, checked inputs)`` of the scenes to ground on this rank, in list order."""
        ...


class SceneWindowDataset(IterableDataset):
    """Window batches of ``scenes``, scene after scene (give it to a ``DataLoader(batch_size=None)``).

    Each item is one batch: ``image`` (``{"S1GRD": float32 (B, 2, h, w) dB, "S2L2A": float32
    (B, C, h, w) reflectance}``, ``channels_last``, invalid pixels filled), ``valid`` (bool
    ``(B, h, w)``), ``windows`` (int64 ``(B, 4)``: row, col, height, width), ``covered`` (windows of
    the layout the batch stands for), ``scene`` (index in the list) and ``last`` (the scene's last
    batch). A scene whose pixels cannot be read stops; its error is kept in :attr:`errors` (with
    ``num_workers=0``) and the next scene follows.

    Args:
        scenes: ``(index, inputs)`` of the scenes, in order.
        window: Window side in px.
        overlap: Overlap of neighbouring windows in px.
        batch_size: Windows per batch (a batch never spans two scenes).
    """

    def __init__(
        self, scenes: Sequence[tuple[int, SceneInputs]], window: int, overlap: int, batch_size: int
    ) -> None:
        self.scenes = list(scenes)
        self.window, self.overlap, self.batch_size = window, overlap, batch_size
        #: Scene index -> why reading its windows stopped.
        self.errors: dict[int, str] = {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index, scene in self.scenes:
            layout = TileLayout(scene.height, scene.width, self.window, self.overlap)
            previous: WindowBatch | None = None
            try:
                with scene.open() as reader:
                    for batch in window_batches(reader, layout, self.batch_size):
                        if previous is not None:
                            yield _item(index, previous, last=False)
                        previous = batch
            except (RasterioError, OSError, ValueError) as error:
                self.errors[index] = f"{scene.optical_path}: cannot read a window: {error}"
                logger.warning("scene %d: %s", index, self.errors[index])
                continue
            if previous is not None:
                yield _item(index, previous, last=True)


def _item(index: int, batch: WindowBatch, last: bool) -> dict[str, Any]:
    windows = [(w.row, w.col, w.height, w.width) for w in batch.windows]
    return {
        "image": model_input(batch),
        "valid": torch.from_numpy(batch.valid),
        "windows": torch.tensor(windows, dtype=torch.int64),
        "covered": batch.covered,
        "scene": index,
        "last": last,
    }


class SceneListDataModule(LightningDataModule):
    """Scenes to ground, from a CSV (``scenes``) or a folder (``scenes_dir`` and two patterns).

    Use with a :class:`~axion_terratorch.callbacks.scene_writer.SceneWriter` callback in the same
    trainer (``trainer.predict``, or ``terratorch predict -c configs/predict.scenes.yaml``).

    Args:
        scenes: CSV with columns ``s1``, ``optical`` and optional ``name`` (default: the optical
            file's stem); relative paths are relative to the CSV's folder.
        scenes_dir: Folder searched recursively for pairs (instead of ``scenes``).
        s1_pattern: Regular expression matching a whole Sentinel-1 file name, with a group ``tile``
            (the scene's name).
        optical_pattern: The same for the optical files.
        bands: Optical bands of the model, in model order.
        optical_bands: Names of the optical files' bands in file order (default: their descriptions).
        optical_units: ``auto``, ``dn`` or ``reflectance``.
        s1_units: Sentinel-1 units: ``auto``, ``db``, ``power`` or ``amplitude``.
        optical_nodata: Nodata value of optical files that declare none.
        window: Model window side in px.
        overlap: Overlap of neighbouring windows in px.
        batch_size: Windows per forward pass.
        num_workers: ``0`` reads windows in the main process; ``1`` reads them in one worker
            process, ahead of the model (more would interleave scenes).

    Raises:
        ValueError: If neither or both of ``scenes`` and ``scenes_dir`` are given, or
            ``num_workers`` is not 0 or 1.
    """

    def __init__(
        self,
        scenes: PathLike | None = None,
        scenes_dir: PathLike | None = None,
        s1_pattern: str = r"(?P<tile>.+)_S1\.tiff?",
        optical_pattern: str = r"(?P<tile>.+)_S2\.tiff?",
        bands: Sequence[str] = DEFAULT_BANDS,
        optical_bands: Sequence[str] | None = None,
        optical_units: OpticalUnits = "auto",
        s1_units: S1Units = "auto",
        optical_nodata: float | None = None,
        window: int = 256,
        overlap: int = 32,
        batch_size: int = 4,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if (scenes is None) == (scenes_dir is None):
            msg = (
                "give the scenes as a CSV (scenes, --scenes) or a folder (scenes_dir, --scenes-dir), not both"
            )
            raise ValueError(msg)
        if num_workers not in (0, 1):
            msg = f"num_workers must be 0 or 1 (more would interleave scenes), got {num_workers}"
            raise ValueError(msg)
        self.scenes, self.scenes_dir = scenes, scenes_dir
        self.s1_pattern, self.optical_pattern = s1_pattern, optical_pattern
        self.bands = tuple(bands)
        self.optical_bands = None if optical_bands is None else list(optical_bands)
        self.optical_units: OpticalUnits = optical_units
        self.s1_units: S1Units = s1_units
        self.optical_nodata = optical_nodata
        self.window, self.overlap, self.batch_size = window, overlap, batch_size
        self.num_workers = num_workers
        self.entries: list[SceneEntry] = []
        #: Set by the writer callback's ``setup``.
        self.planner: ScenePlanner | None = None
        self.dataset: SceneWindowDataset | None = None

    def setup(self, stage: str) -> None:
        """Read the scene list (any stage; only ``predict`` uses it)."""
        if self.scenes is not None:
            self.entries = read_scene_csv(self.scenes)
        else:
            assert self.scenes_dir is not None  # checked in __init__
            self.entries = find_scene_pairs(self.scenes_dir, self.s1_pattern, self.optical_pattern)

    def predict_dataloader(self) -> DataLoader:
        """The windows of this rank's pending scenes (asked of the writer callback).

        Raises:
            RuntimeError: If no ``SceneWriter`` callback is in the trainer.
        """
        if self.planner is None:
            msg = (
                f"{type(self).__name__} needs a SceneWriter callback in the trainer "
                "(trainer.callbacks: axion_terratorch.callbacks.SceneWriter) to write the scenes"
            )
            raise RuntimeError(msg)
        pending = self.planner.pending_scenes(self)
        self.dataset = SceneWindowDataset(pending, self.window, self.overlap, self.batch_size)
        return DataLoader(self.dataset, batch_size=None, num_workers=self.num_workers)
