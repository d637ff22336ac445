# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Scene inference time and peak memory against scene area (``axion-stage3 predict``'s path).

Writes synthetic S1/optical GeoTIFF scenes of growing side, grounds each with a tiny residual model
(random weights, LoRA) through :func:`~axion_terratorch.inference.pipeline.predict_scene`, and reports
wall time, time per megapixel and the peak Python-heap memory (tracemalloc) per scene. Time per
megapixel staying flat means time grows linearly with area; flat peak memory means the windowed
reading and writing hold no whole-scene array.

Usage::

    python benchmarks/predict_scaling.py --sides 256 512 1024 --json benchmarks/predict_scaling.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.transform import from_origin

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.scene import GroundingOptions
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding


def write_scene(folder: Path, side: int, seed: int = 0) -> tuple[Path, Path]:
    """S1 (VV, VH dB) and optical (B02, B03, B04, B08 reflectance) GeoTIFFs of ``side`` px."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / 12.0
    field = np.sin(yy + 0.5 * np.cos(xx)) + np.cos(0.7 * xx)
    optical = 0.12 + 0.04 * field[None] * np.array([0.5, 0.8, 1.0, 1.5])[:, None, None]
    sar = np.stack([-12 + 3 * field, -19 + 2.5 * field]) + rng.normal(0, 1.0, (2, side, side))
    paths = []
    for name, data, bands in (("s1", sar, ["VV", "VH"]), ("optical", optical, list(DEFAULT_BANDS))):
        path = folder / f"{name}_{side}.tif"
        profile = {
            "driver": "GTiff", "count": len(bands), "height": side, "width": side, "dtype": "float32",
            "crs": "EPSG:32633", "transform": from_origin(500000.0, 5000000.0, 10.0, 10.0),
            "tiled": True, "blockxsize": 256, "blockysize": 256,
        }  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data.astype(np.float32))
            dst.descriptions = tuple(bands)
        paths.append(path)
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = TerraMindResidualGrounding(variant="tiny", pretrained=False, lora=LoraSettings(rank=8))
    model.eval()
    options = GroundingOptions(
        window=args.window, overlap=args.overlap, batch_size=args.batch_size, progress=False
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for side in args.sides:
            s1, optical = write_scene(Path(folder), side)
            tracemalloc.start()
            start = time.perf_counter()
            predict_scene(model, s1, optical, Path(folder) / f"out_{side}.tif", options, lpips=False)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            megapixels = side * side / 1e6
            rows.append({
                "side": side, "megapixels": megapixels, "seconds": seconds,
                "seconds_per_megapixel": seconds / megapixels, "peak_heap_mib": peak / 2**20,
            })  # fmt: skip
            print(f"{side:>6} px  {megapixels:7.3f} MP  {seconds:8.1f} s  "
                  f"{seconds / megapixels:8.1f} s/MP  peak heap {peak / 2**20:7.1f} MiB", flush=True)  # fmt: skip
    if args.json:
        record = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                  "args": {k: v for k, v in vars(args).items() if k != "json"}, "rows": rows}  # fmt: skip
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
