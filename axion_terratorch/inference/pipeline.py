"""``predict_scene``: checkpoint + GeoTIFF pair -> grounded GeoTIFF and its JSON sidecar."""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from pathlib import Path

from rasterio.errors import RasterioIOError
from torch import nn

from axion_terratorch.checkpoints.loading import load_model, set_timesteps
from axion_terratorch.constants import OpticalUnits, PathLike
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.units import S1Units
from axion_terratorch.inference.scene import GroundingOptions, check_scratch_space, write_grounded
from axion_terratorch.inference.sidecar import grounded_files, prediction_sidecar, sidecar_path
from axion_terratorch.inference.statistics import SceneStatistics, optional_lpips
from axion_terratorch.output_files import (
    check_outputs,
    check_written_raster,
    dump_json,
    file_sha256,
    write_failure,
)
from axion_terratorch.resources import check_device, check_writable

logger = logging.getLogger(__name__)


def input_options(
    optical_bands: Sequence[str] | None,
    optical_units: OpticalUnits,
    timesteps: int | None,
    s1_units: S1Units = "auto",
    optical_nodata: float | None = None,
) -> dict[str, object]:
    """The sidecar's ``input_options``: how the inputs were read and the model run, beyond
    :class:`GroundingOptions`."""
    bands = None if optical_bands is None else list(optical_bands)
    return {
        "optical_bands": bands,
        "optical_units": optical_units,
        "timesteps": timesteps,
        "s1_units": s1_units,
        "optical_nodata": optical_nodata,
    }


def predict_scene(
    model: nn.Module | PathLike,
    s1: PathLike,
    optical: PathLike,
    output: PathLike,
    options: GroundingOptions | None = None,
    optical_bands: Sequence[str] | None = None,
    optical_units: OpticalUnits = "auto",
    timesteps: int | None = None,
    lpips: bool | None = None,
    config: PathLike | None = None,
    s1_units: S1Units = "auto",
    optical_nodata: float | None = None,
) -> dict[str, object]:
    """Ground a Sentinel-1 / optical GeoTIFF pair; write ``output`` and ``output`` with ``.json``.

    Before the model is built or a window read: the device exists, the output folder is writable and
    its disk has room for the temporary sum (:func:`check_scratch_space`). The inputs are then checked
    (readable to their last block, bands present, same grid, plausible units, some valid data) before
    anything is written. Both files are written to temporary files and renamed together when both are
    complete: a failed or interrupted run leaves an earlier pair as it was. Temporary files a killed
    earlier run left beside them are removed first.

    Args:
        model: A grounding model, or the path of a ``SARGroundingTask`` checkpoint.
        s1: Sentinel-1 GRD GeoTIFF, VV and VH in dB or linear power.
        optical: Optical (Stage 2) GeoTIFF holding the model's bands.
        output: Output GeoTIFF.
        options: Tiling, precision, output type, quality check and fallback (default
            :class:`GroundingOptions`).
        optical_bands: Names of the optical file's bands, in file order (when not in its descriptions).
        optical_units: ``auto`` (DN when the 99th percentile is above 2, else reflectance), ``dn`` or ``reflectance``.
        timesteps: Diffusion steps of a generative model.
        lpips: Compute the LPIPS change: ``None`` when its backbone weights are on this machine
            (no download), ``True`` always, ``False`` never (:func:`~.statistics.optional_lpips`).
        config: Run YAML to rebuild the model when the checkpoint has no model config.
        s1_units: Sentinel-1 units (:class:`~axion_terratorch.datasets.scene_inputs.SceneInputs`).
        optical_nodata: Optical nodata value of a file that declares none.

    Returns:
        The sidecar.
    """
    options = GroundingOptions() if options is None else options
    sidecar_file = sidecar_path(output)
    if Path(output).resolve() == sidecar_file.resolve():
        msg = (
            f"output {output} is also its own sidecar path ({sidecar_file}: the output with .json), "
            "so the sidecar would overwrite the GeoTIFF; give the output a .tif name"
        )
        raise ValueError(msg)
    check_outputs(
        {"output": output, "sidecar": sidecar_file},
        {
            "s1": s1,
            "optical": optical,
            "checkpoint": None if isinstance(model, nn.Module) else model,
            "config": config,
        },
    )
    check_device(options.device)
    folder = check_writable(Path(output).parent, "output")
    checkpoint = digest = None
    if not isinstance(model, nn.Module):
        checkpoint = Path(model)
        model = load_model(checkpoint, config)
        digest = file_sha256(checkpoint)
    set_timesteps(model, timesteps)
    bands = getattr(model, "bands", None)
    if bands is None:
        msg = f"{type(model).__name__} does not say its optical bands (a `bands` attribute)"
        raise ValueError(msg)
    check_scratch_space(optical, len(bands), folder)
    scene = SceneInputs(s1, optical, bands, optical_bands, optical_units, s1_units, optical_nodata)
    lpips_model, note = optional_lpips(bands, lpips)
    with grounded_files(output) as (output_tmp, sidecar_tmp):
        statistics = SceneStatistics(bands, lpips_model, options.device)
        try:
            write_grounded(model, scene, output_tmp, output, options, statistics)
        except (RasterioIOError, OSError) as error:  # GDAL's "Write failed. See previous exception ..."
            if not _write_error(error):
                raise
            raise OSError(write_failure(output, error)) from error
        reading = input_options(optical_bands, optical_units, timesteps, s1_units, optical_nodata)
        sidecar = prediction_sidecar(output, scene, statistics, options, checkpoint, note, digest, reading)
        dump_json(sidecar_tmp, sidecar)
        check_written_raster(output_tmp, output)
    logger.info("wrote %s (%s)", output, sidecar["quality_flag"])
    return sidecar


def _write_error(error: BaseException) -> bool:
    """Whether ``error`` is a failed write (GDAL's message, or a full disk / file size limit)."""
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) or (
        isinstance(error, RasterioIOError) and "write" in str(error).lower()
    )
