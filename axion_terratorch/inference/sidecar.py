"""The JSON sidecar of a grounded scene (and report of ``axion-stage3 check``): statistics, quality verdict, provenance."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import axion_terratorch
from axion_terratorch.atomic import atomic_paths, remove_stale_temporaries
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.inference.quality import QualityCheck
from axion_terratorch.inference.scene import GroundingOptions, remove_scene_temporaries
from axion_terratorch.inference.statistics import SceneStatistics

#: The statistics the quality verdict takes, in :meth:`QualityCheck.verdict`'s order.
VERDICT_SCORES = ("sar_agreement_input", "sar_agreement", "sar_imprint", "sar_agreement_change", "band_drift")


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``OUT.tif`` -> ``OUT.json``."""
    return Path(output).with_suffix(".json")


@contextmanager
def grounded_files(output: str | os.PathLike[str]) -> Iterator[tuple[Path, Path]]:
    """The temporary GeoTIFF and sidecar of ``output``, renamed together when the block succeeds
    (removed when it fails); the temporary files a killed earlier run left beside them are removed
    first."""
    sidecar = sidecar_path(output)
    remove_scene_temporaries(output)
    remove_stale_temporaries(sidecar)
    with atomic_paths(output, sidecar) as paths:
        yield paths


def prediction_sidecar(
    output: str | os.PathLike[str],
    scene: SceneInputs,
    statistics: SceneStatistics,
    options: GroundingOptions,
    checkpoint: str | os.PathLike[str] | None,
    lpips_note: str | None,
    checkpoint_sha256: str | None,
    input_options: Mapping[str, object],
) -> dict[str, object]:
    """:func:`build_sidecar` of a scene ``predict`` grounded with ``options``: judged by
    ``options.check``, fallback windows counted when ``options.fallback`` is ``input``."""
    return build_sidecar(
        output,
        scene,
        statistics,
        options,
        options.check,
        checkpoint,
        lpips_note,
        statistics.fallback_windows if options.fallback == "input" else None,
        windows=statistics.windows,
        checkpoint_sha256=checkpoint_sha256,
        input_options=input_options,
    )


def build_sidecar(
    output: str | os.PathLike[str],
    scene: SceneInputs,
    statistics: SceneStatistics,
    options: GroundingOptions | None = None,
    check: QualityCheck | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    lpips_note: str | None = None,
    fallback_windows: int | None = None,
    windows: int | None = None,
    checkpoint_sha256: str | None = None,
    input_options: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The sidecar of ``output`` as a JSON-ready dict; ``axion-stage3 check`` writes the same fields.

    Args:
        output: The grounded GeoTIFF.
        scene: Its inputs.
        statistics: Statistics of the output against its inputs.
        options: The settings of ``predict`` (``None`` when the output was made elsewhere).
        check: Thresholds of the quality verdict (default :class:`QualityCheck`).
        checkpoint: The model's checkpoint, recorded for provenance.
        lpips_note: Why ``lpips_change`` is missing, when it is.
        fallback_windows: Windows where ``predict --fallback input`` wrote the input.
        windows: Windows run through the model (those holding valid optical data). When every one
            fell back, the flag is ``fallback``: the output is the input, nothing was grounded.
        checkpoint_sha256: SHA-256 of the checkpoint file (what a resumed scene list compares).
        input_options: How the inputs were read and the model run beyond ``options``
            (``optical_bands``, ``optical_units``, ``timesteps``).
    """
    check = QualityCheck() if check is None else check
    summary = statistics.summary()
    verdict = check.verdict(*(summary[key] for key in VERDICT_SCORES))
    flag, reasons = verdict.flag, list(verdict.reasons)
    if windows and fallback_windows == windows:
        flag, reasons = "fallback", [f"all {windows} windows failed the quality check"]
    return {
        "output": str(output),
        "inputs": {"s1": str(scene.s1_path), "optical": str(scene.optical_path)},
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "checkpoint_sha256": checkpoint_sha256,
        "bands": list(scene.bands),
        "sar_agreement_metric": "structure-tensor orientation agreement, in [-1, 1]",
        **{k: summary[k] for k in ("sar_agreement_input", "sar_agreement", "sar_agreement_gain")},
        "sar_imprint": summary["sar_imprint"],
        "sar_agreement_change": summary["sar_agreement_change"],
        "band_drift": summary["band_drift"],
        "band_drift_metric": "per band, the relative low-pass change (output - input) shared by 90% of valid pixels",
        "lpips_change": summary["lpips_change"],
        "lpips_note": lpips_note,
        "quality_flag": flag,
        "quality_reasons": reasons,
        "quality_check": check.as_dict(),
        "fallback_windows": fallback_windows,
        "windows": windows,
        "valid_fraction": summary["valid_fraction"],
        "change_units": "reflectance (output - input, valid pixels)",
        "change": summary["change"],
        "settings": None if options is None else dataclasses.asdict(options),
        "input_options": None if input_options is None else dict(input_options),
        "axion_terratorch_version": axion_terratorch.__version__,
    }
