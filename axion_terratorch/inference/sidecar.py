"""The JSON sidecar of a grounded scene: statistics, quality flag and provenance."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Literal

import axion_terratorch
from axion_terratorch.inference.geotiff import SceneInputs
from axion_terratorch.inference.scene import GroundingOptions
from axion_terratorch.inference.statistics import SceneStatistics

#: Default SAR agreement below which an output is flagged ``preview-only``. On the real BigEarthNet
#: pairs the shipped metric gives true Sentinel-2 0.25-0.46 against its Sentinel-1, and unrelated
#: structure (the same image flipped, rotated by 90 degrees or pixel-shuffled) -0.18-0.12; 0.2 lies
#: between the two (docs/inference.md). The seed's 0.6 was for another formula and would flag
#: every real pair.
QUALITY_THRESHOLD = 0.2

QualityFlag = Literal["production", "preview-only"]


def quality_flag(agreement: float | None, threshold: float = QUALITY_THRESHOLD) -> QualityFlag:
    """``production`` if the output's SAR agreement reaches ``threshold``, else ``preview-only``
    (also when there was too little valid data to score it)."""
    return "production" if agreement is not None and agreement >= threshold else "preview-only"


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """``OUT.tif`` -> ``OUT.json``."""
    return Path(output).with_suffix(".json")


def build_sidecar(
    output: str | os.PathLike[str],
    scene: SceneInputs,
    statistics: SceneStatistics,
    options: GroundingOptions,
    threshold: float = QUALITY_THRESHOLD,
    checkpoint: str | os.PathLike[str] | None = None,
    lpips_note: str | None = None,
) -> dict[str, object]:
    """The sidecar of ``output`` as a JSON-ready dict.

    Args:
        output: The grounded GeoTIFF.
        scene: Its inputs.
        statistics: Statistics filled while writing it.
        options: The settings used.
        threshold: SAR agreement threshold of the quality flag.
        checkpoint: The model's checkpoint, recorded for provenance.
        lpips_note: Why ``lpips_change`` is missing, when it is.
    """
    summary = statistics.summary()
    return {
        "output": str(output),
        "inputs": {"s1": str(scene.s1_path), "optical": str(scene.optical_path)},
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "bands": list(scene.bands),
        "sar_agreement_metric": "structure-tensor orientation agreement, in [-1, 1]",
        **{k: summary[k] for k in ("sar_agreement_input", "sar_agreement_output", "sar_agreement_gain")},
        "lpips_change": summary["lpips_change"],
        "lpips_note": lpips_note,
        "quality_flag": quality_flag(summary["sar_agreement_output"], threshold),
        "quality_threshold": threshold,
        "valid_fraction": summary["valid_fraction"],
        "change_units": "reflectance (output - input, valid pixels)",
        "change": summary["change"],
        "settings": dataclasses.asdict(options),
        "axion_terratorch_version": axion_terratorch.__version__,
    }
