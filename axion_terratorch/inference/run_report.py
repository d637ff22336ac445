"""The report of a scene-list run (``run.csv``, ``run.json``) and the quicklook beside each output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling

from axion_terratorch.constants import REFLECTANCE_SCALE, PathLike
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.output_files import write_csv, write_json
from axion_terratorch.panels import save_comparison_panel

#: Columns of ``run.csv`` (and the keys of ``run.json``'s rows).
REPORT_COLUMNS = (
    "name",
    "status",
    "verdict",
    "windows",
    "fallback_windows",
    "sar_agreement_input",
    "sar_agreement",
    "seconds",
    "rank",
    "error",
    "output",
)
#: Longest side (px) of a quicklook's images.
QUICKLOOK_SIDE = 512


def report_row(
    name: str,
    status: str,
    sidecar: dict[str, Any] | None,
    output: str | os.PathLike[str] | None,
    rank: int,
    windows: int | None = None,
    seconds: float | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One scene's row: its status (``grounded``, ``skipped``, ``failed``) and what its sidecar says."""
    sidecar = sidecar or {}
    return {
        "name": name,
        "status": status,
        "verdict": sidecar.get("quality_flag"),
        "windows": windows,
        "fallback_windows": sidecar.get("fallback_windows"),
        "sar_agreement_input": sidecar.get("sar_agreement_input"),
        "sar_agreement": sidecar.get("sar_agreement"),
        "seconds": None if seconds is None else round(seconds, 3),
        "rank": rank,
        "error": error,
        "output": None if output is None else str(output),
    }


def run_report(
    rows: list[dict[str, Any]], scenes: int, checkpoint: PathLike | None, digest: str | None
) -> dict[str, Any]:
    """``run.json``: the checkpoint, the totals over ``rows`` (of ``scenes`` listed) and the rows."""
    statuses = [row["status"] for row in rows]
    totals = {
        "scenes": scenes,
        **{status: statuses.count(status) for status in ("grounded", "skipped", "failed")},
        "windows": sum(row["windows"] or 0 for row in rows),
        "fallback_windows": sum(row["fallback_windows"] or 0 for row in rows),
        "seconds": round(sum(row["seconds"] or 0.0 for row in rows), 3),
        "verdicts": {
            flag: sum(row["verdict"] == flag for row in rows)
            for flag in ("production", "preview-only", "over-grounded")
        },
        "failed_scenes": [row["name"] for row in rows if row["status"] == "failed"],
    }
    return {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "checkpoint_sha256": digest,
        "totals": totals,
        "scenes": rows,
    }


def write_run_report(output_dir: Path, report: dict[str, Any]) -> None:
    """Write ``run.csv`` (when there are rows) and ``run.json`` into ``output_dir``, atomically."""
    rows = report["scenes"]
    if rows:
        write_csv(output_dir / "run.csv", [{k: row[k] for k in REPORT_COLUMNS} for row in rows])
    write_json(output_dir / "run.json", report)


def write_quicklook(scene: SceneInputs, output: PathLike, dn: bool, title: str) -> Path:
    """``<output>.png``: Stage 2 input, grounded output, their change and SAR VV, at most
    :data:`QUICKLOOK_SIDE` px a side (averaged), nodata shown as NaN."""
    scale = min(1.0, QUICKLOOK_SIDE / max(scene.height, scene.width))
    shape = (max(1, round(scene.height * scale)), max(1, round(scene.width * scale)))
    images = {}
    with rasterio.open(scene.s1_path) as sar, rasterio.open(scene.optical_path) as optical:
        for key, src, raster in (("sar", sar, scene.sar), ("optical", optical, scene.optical)):
            raw = src.read(
                list(raster.indexes),
                out_shape=(len(raster.indexes), *shape),
                resampling=Resampling.average,
                out_dtype="float32",
            )
            images[key] = np.where(raster.valid(raw), raster.convert(raw), np.nan)
    with rasterio.open(output) as src:
        raw = src.read(out_shape=(src.count, *shape), resampling=Resampling.average, out_dtype="float32")
        valid = np.isfinite(raw).all(axis=0) & (
            (raw != src.nodata).all(axis=0) if src.nodata is not None else True
        )
        images["output"] = np.where(valid, raw / REFLECTANCE_SCALE if dn else raw, np.nan)
    path = Path(output).with_suffix(".png")
    save_comparison_panel(images, scene.bands, title, path)
    return path
