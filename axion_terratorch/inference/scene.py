"""Ground a whole Sentinel-1 / optical scene window by window, with flat memory.

Pass 1 runs the model on overlapping windows (batched), optionally replaces the prediction of a
window that fails the quality check by the input (``fallback="input"``), and adds each prediction, times its
normalised blending weight (:class:`~axion_terratorch.datasets.tiling.TileLayout`), into an
uncompressed float32 GeoTIFF beside the output: only the windows of one batch are in memory.
Pass 2 reads that sum block by block, puts the input back where the SAR is invalid and nodata where
the optical input is invalid, converts to the output type, writes the output and accumulates the
sidecar statistics. The output is written to a temporary file and renamed when complete; the
temporary sum is removed (and a stale one a killed run left is removed by the next run).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
import torch
from rasterio.errors import RasterioError
from rasterio.windows import Window as RioWindow
from torch import nn
from tqdm.auto import tqdm
from typing_extensions import Self

from axion_terratorch.atomic import TMP_SUFFIX, atomic_path, remove_stale_temporaries, scratch_path
from axion_terratorch.constants import REFLECTANCE_SCALE
from axion_terratorch.datasets.scene_inputs import SceneInputs, SceneReader
from axion_terratorch.datasets.scene_windows import WindowBatch, model_input, window_batches
from axion_terratorch.datasets.tiling import TileLayout, Window
from axion_terratorch.inference.quality import QualityCheck, check_tiles
from axion_terratorch.inference.statistics import SceneStatistics
from axion_terratorch.resources import check_free_space

logger = logging.getLogger(__name__)

InferencePrecision = Literal["32", "16", "bf16"]
Fallback = Literal["none", "input"]
#: Block side (px) of the second pass and of the output GeoTIFF's internal tiling.
BLOCK = 256
#: Suffix of the temporary float32 sum of pass 1, beside the output.
SCRATCH_SUFFIX = ".sum.tif"
_AUTOCAST = {"16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class GroundingOptions:
    """How a scene is tiled, run and written.

    Attributes:
        window: Model window side in px (a multiple of 16 suits TerraMind; others are padded).
        overlap: Overlap of neighbouring windows in px, cross-faded with a cosine ramp.
        batch_size: Windows per forward pass.
        precision: ``"32"``, or autocast to ``"16"`` / ``"bf16"`` (the output is float32 either way).
        device: Torch device of the model.
        dn: Write uint16 DN (reflectance x 10000, rounded, clipped) instead of float32 reflectance.
        progress: Show progress bars.
        max_scored_blocks: At most this many blocks of ``BLOCK`` px, evenly spread over the scene,
            are scored for the sidecar's SAR agreement and LPIPS (the per-band change uses every pixel).
        fallback: ``"input"``: where a window's prediction fails the quality check
            (:class:`~axion_terratorch.inference.quality.QualityCheck`), write the input there instead
            (a no-harm mode for production runs); ``"none"``: write every prediction.
        check: Thresholds of that check.
    """

    window: int = 256
    overlap: int = 32
    batch_size: int = 4
    precision: InferencePrecision = "32"
    device: str = "cpu"
    dn: bool = False
    progress: bool = True
    max_scored_blocks: int = 64
    fallback: Fallback = "none"
    check: QualityCheck = field(default_factory=QualityCheck)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            msg = f"batch_size must be >= 1, got {self.batch_size}"
            raise ValueError(msg)
        if self.precision not in ("32", *_AUTOCAST):
            msg = f"precision must be '32', '16' or 'bf16', got {self.precision!r}"
            raise ValueError(msg)
        if self.max_scored_blocks < 1:
            msg = f"max_scored_blocks must be >= 1, got {self.max_scored_blocks}"
            raise ValueError(msg)
        if self.fallback not in ("none", "input"):
            msg = f"fallback must be 'none' or 'input', got {self.fallback!r}"
            raise ValueError(msg)
        TileLayout(1, 1, self.window, self.overlap)  # checks window and overlap


def ground_scene(
    model: nn.Module,
    scene: SceneInputs,
    output: str | os.PathLike[str],
    options: GroundingOptions,
    statistics: SceneStatistics | None = None,
) -> SceneStatistics:
    """Ground ``scene`` with ``model`` and write ``output`` (GeoTIFF on the optical input's grid).

    ``output`` is replaced only when complete; temporary files a killed earlier run left beside it
    are removed first.

    Args:
        model: Maps ``{"S1GRD": (B, 2, h, w) dB, "S2L2A": (B, C, h, w) reflectance}`` to ``(B, C, h, w)``.
        scene: The checked inputs.
        output: Output GeoTIFF path.
        options: Tiling, precision and output type.
        statistics: Accumulator of the sidecar statistics (default: without LPIPS).

    Returns:
        The filled statistics.
    """
    remove_scene_temporaries(output)
    with atomic_path(output) as out_tmp:
        return write_grounded(model, scene, out_tmp, output, options, statistics)


def write_grounded(
    model: nn.Module,
    scene: SceneInputs,
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    options: GroundingOptions,
    statistics: SceneStatistics | None = None,
) -> SceneStatistics:
    """:func:`ground_scene` writing straight to ``path`` (a temporary file of ``output``, whose
    folder also holds the temporary sum); for callers that replace several files together."""
    model.eval().to(options.device)
    layout = TileLayout(scene.height, scene.width, options.window, options.overlap)
    bar = tqdm(total=len(layout), desc="grounding windows", unit="win", disable=not options.progress)
    with SceneAccumulator(scene, path, output, options, statistics) as accumulator, bar:
        with torch.inference_mode(), scene.open() as reader:
            for batch in window_batches(reader, layout, options.batch_size):
                accumulator.add(batch, _run(model, batch, options))
                bar.update(batch.covered)
        return accumulator.finish()


class SceneAccumulator:
    """The output of one scene, written from the predictions of its windows (a context manager).

    Entering opens the scene's inputs and the temporary float32 sum beside ``output`` (removed on
    exit); :meth:`add` blends the predictions of a :class:`WindowBatch` into the sum (falling back to
    the input where ``options.fallback`` says so); :meth:`finish` writes ``path`` (pass 2) and
    returns the statistics. Only the files are open between calls: memory stays flat in the scene
    size, whoever produces the predictions (:func:`write_grounded`, or Lightning's predict loop).

    Args:
        scene: The checked inputs.
        path: Where the output is written (a temporary file of ``output``).
        output: The final output path; the temporary sum is written beside it.
        options: Tiling, output type and fallback.
        statistics: Accumulator of the sidecar statistics (default: without LPIPS).
    """

    def __init__(
        self,
        scene: SceneInputs,
        path: str | os.PathLike[str],
        output: str | os.PathLike[str],
        options: GroundingOptions,
        statistics: SceneStatistics | None = None,
    ) -> None:
        self.scene, self.path, self.output, self.options = scene, Path(path), Path(output), options
        self.statistics = (
            SceneStatistics(scene.bands, device=options.device) if statistics is None else statistics
        )
        self.layout = TileLayout(scene.height, scene.width, options.window, options.overlap)
        self.windows = 0
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Self:
        stack = self._stack.__enter__()
        try:
            stack.enter_context(block_cache(self.scene, self.options.window))
            acc_path = stack.enter_context(scratch_path(self.output, SCRATCH_SUFFIX))
            self._reader = stack.enter_context(self.scene.open())
            profile = _profile(self.scene, "float32", None, None)
            self._acc = stack.enter_context(rasterio.open(acc_path, "w+", **profile))
        except BaseException:
            stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> bool | None:
        return self._stack.__exit__(*exc)

    def add(self, batch: WindowBatch, predictions: np.ndarray) -> None:
        """Blend float32 ``(B, C, h, w)`` ``predictions`` of ``batch``'s windows into the sum.

        ``predictions`` is changed in place where a window falls back to its input.
        """
        if self.options.fallback == "input":
            self.statistics.fallback_windows += _fall_back(
                predictions, batch, self.scene.bands, self.options.check
            )
        for window, prediction in zip(batch.windows, predictions, strict=True):
            rio_window = RioWindow(window.col, window.row, window.width, window.height)
            total = self._acc.read(window=rio_window) + prediction * self.layout.weight(window)
            self._acc.write(total, window=rio_window)
        self.windows += len(batch.windows)

    def finish(self) -> SceneStatistics:
        """Write the output to ``path`` from the sum (pass 2); return the statistics."""
        nodata = _output_nodata(self.scene, self.options.dn)
        profile = _profile(self.scene, "uint16" if self.options.dn else "float32", nodata, "deflate")
        with rasterio.open(self.path, "w", **profile) as dst:
            _finalise(self.scene, self._reader, self._acc, dst, nodata, self.options, self.statistics)
        self.statistics.windows = self.windows
        return self.statistics


def block_cache(scene: SceneInputs, window: int) -> contextlib.AbstractContextManager[object]:
    """GDAL's block cache bounded to what one row of windows touches, unless the user set ``GDAL_CACHEMAX``.

    GDAL's default cache is 5% of the RAM, and the blocks of the inputs and of the temporary sum
    stay in it as they are read and written, so the resident memory grows with the scene
    (``docs/experiments.md``, "Scene inference against terratorch's ``tiled_inference``"). Bounded
    to ``window + BLOCK`` rows of the scene's width at 4 bytes for every band of the inputs and the
    sum (at least 16 MiB), the blocks a row of windows shares with the next are still read once,
    and memory stays flat in the scene's height. An environment variable or an enclosing
    ``rasterio.Env`` setting ``GDAL_CACHEMAX`` wins.
    """
    if "GDAL_CACHEMAX" in os.environ or (rasterio.env.hasenv() and "GDAL_CACHEMAX" in rasterio.env.getenv()):
        return contextlib.nullcontext()
    bands = len(scene.sar.indexes) + 2 * len(scene.bands)  # S1 and optical inputs, the sum
    rows = min(window + BLOCK, scene.height)
    return rasterio.Env(GDAL_CACHEMAX=max(16 * 2**20, 4 * bands * rows * scene.width))


def remove_scene_temporaries(output: str | os.PathLike[str]) -> None:
    """Remove the temporary output and sum of ``output`` that a killed run left behind."""
    for stale in remove_stale_temporaries(output, (TMP_SUFFIX, SCRATCH_SUFFIX)):
        logger.info("removed %s, left by an interrupted run", stale)


def _fall_back(
    predictions: np.ndarray, batch: WindowBatch, bands: tuple[str, ...], check: QualityCheck
) -> int:
    """Replace, in place, each prediction that fails ``check`` by its input; return how many."""
    sar, optical, valid = (torch.from_numpy(a) for a in (batch.sar, batch.optical, batch.valid))
    checked = check_tiles(torch.from_numpy(predictions), optical, sar, bands, valid[:, None], check)
    failed = [i for i, tile in enumerate(checked) if not tile.verdict.passed]
    for i in failed:
        predictions[i] = batch.optical[i]
    return len(failed)


def _run(model: nn.Module, batch: WindowBatch, opts: GroundingOptions) -> np.ndarray:
    """The model's ``(B, C, h, w)`` prediction of a batch of windows, float32 on the CPU."""
    device = torch.device(opts.device)
    image = {key: value.to(device) for key, value in model_input(batch).items()}
    with autocast(device.type, opts.precision):
        prediction = model(image)
    return prediction.float().cpu().contiguous().numpy()


def autocast(device_type: str, precision: InferencePrecision) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast`` to ``precision`` (``"16"``, ``"bf16"``); nothing for ``"32"``."""
    dtype = _AUTOCAST.get(precision)
    return torch.autocast(device_type, dtype=dtype) if dtype else contextlib.nullcontext()


def _finalise(
    scene: SceneInputs,
    reader: SceneReader,
    acc: rasterio.DatasetWriter,
    dst: rasterio.DatasetWriter,
    nodata: float | None,
    opts: GroundingOptions,
    statistics: SceneStatistics,
) -> None:
    blocks = list(scene_blocks(scene.height, scene.width))
    every = math.ceil(len(blocks) / opts.max_scored_blocks)
    bar = tqdm(blocks, desc="writing blocks", unit="block", disable=not opts.progress)
    for index, block in enumerate(bar):
        sar, optical, sar_valid, opt_valid = reader.read(block)
        rio_window = RioWindow(block.col, block.row, block.width, block.height)
        grounded = np.where(sar_valid, acc.read(window=rio_window), optical)
        statistics.update(grounded, optical, sar, opt_valid & sar_valid, score=index % every == 0)
        fill = np.nan if nodata is None else nodata
        if opts.dn:
            values = np.clip(np.rint(grounded * REFLECTANCE_SCALE), 0, np.iinfo(np.uint16).max)
            values = np.where(opt_valid, values, fill).astype(np.uint16)
        else:
            values = np.where(opt_valid, grounded, fill).astype(np.float32)
        dst.write(values, window=rio_window)
    for index, (name, description) in enumerate(zip(scene.bands, scene.optical.descriptions, strict=True), 1):
        dst.set_band_description(index, description or name)


def scene_blocks(height: int, width: int) -> Iterator[Window]:
    """The ``BLOCK`` px blocks of a ``height`` x ``width`` scene, row by row (the last ones clipped)."""
    for row in range(0, height, BLOCK):
        for col in range(0, width, BLOCK):
            yield Window(row, col, min(BLOCK, height - row), min(BLOCK, width - col))


def _output_nodata(scene: SceneInputs, dn: bool) -> float | None:
    """The optical input's nodata; for uint16 output, 0 when it is unset or not a uint16 value."""
    nodata = scene.optical.nodata
    if not dn:
        return nodata
    if nodata is None or not math.isfinite(nodata) or not 0 <= nodata <= np.iinfo(np.uint16).max:
        return 0.0
    return float(nodata)


def _profile(scene: SceneInputs, dtype: str, nodata: float | None, compress: str | None) -> dict:
    source = scene.profile
    profile = {
        "driver": "GTiff",
        "width": scene.width,
        "height": scene.height,
        "count": len(scene.bands),
        "dtype": dtype,
        "crs": source.get("crs"),
        "transform": source["transform"],
        "nodata": nodata,
        "BIGTIFF": "IF_SAFER",
    }
    if scene.width >= 16 and scene.height >= 16:
        side = min(BLOCK, 16 * (min(scene.width, scene.height) // 16))
        profile.update(tiled=True, blockxsize=side, blockysize=side)
    if compress:
        profile["compress"] = compress
    return profile


def check_scratch_space(optical: str | os.PathLike[str], bands: int, folder: Path) -> None:
    """Refuse a scene whose temporary float32 sum (``bands`` x height x width x 4 bytes) does not fit
    on ``folder``'s disk, reading only the optical raster's header (a header that cannot be read is
    left to :class:`SceneInputs` to report).

    Raises:
        OSError: If the disk is too small; the message gives both sizes.
    """
    try:
        with rasterio.open(optical) as src:
            height, width = src.height, src.width
    except (RasterioError, OSError):
        return
    needed = 4 * bands * height * width
    what = f"the temporary sum of a {width} x {height} px scene of {bands} bands"
    check_free_space(folder, needed, what, "--output")
