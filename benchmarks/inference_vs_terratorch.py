# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Scene inference: ``axion-stage3 predict``'s pipeline against terratorch's ``tiled_inference``.

Grounds one synthetic N x N scene (S1 VV/VH dB and B02, B03, B04, B08 reflectance, float32 GeoTIFFs,
``predict_scaling.write_scene``) with the same checkpoint (tiny residual model, random weights with a
non-zero head), window and overlap, two ways:

- ``ours``: :func:`~axion_terratorch.inference.pipeline.predict_scene`, the library call of
  ``axion-stage3 predict`` (checks, windowed reads, blending into a temporary float32 sum, the
  sidecar's statistics without LPIPS, atomic output and sidecar);
- ``terratorch``: the scene read whole with rasterio, ``terratorch.tasks.tiled_inference.tiled_inference``
  (``crop=window``, ``stride=window - overlap``, ``delta=0``, ``padding=False``: the same windows;
  the same batch size), then one rasterio write with the output profile ``predict`` uses (float32,
  256 px tiles, deflate).

Both load the model with the same :func:`~axion_terratorch.checkpoints.loading.load_model`. Each
run is its own subprocess, so its peak resident memory is its own (``VmHWM`` of ``/proc/self/status``:
``ru_maxrss`` would also count the parent's memory at the fork); time, wall-clock and CPU, is measured
in the subprocess from loading the checkpoint to the output on disk (imports excluded, the same on both
sides). Runs are interleaved (ours, theirs, ours, theirs, ...) so that load from other jobs hits both
sides alike; the ratios reported are medians over the pairs. The outputs' largest absolute
difference is reported for all pixels, for pixels inside one window only and for the overlaps: the
two tools cross-fade overlaps with different ramps (ours ``0.5 - 0.5 cos(pi (i + 0.5) / overlap)``;
terratorch's ``0.5 + 0.5 cos(pi (i + 1) / (overlap + 1))`` reversed, plus 1e-6).

Usage::

    python benchmarks/inference_vs_terratorch.py --size 1024 --json benchmarks/inference_vs_terratorch_1024.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIDES = ("ours", "terratorch")


def vm_kib(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` (KiB) of this process from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    msg = f"{field} not in /proc/self/status"
    raise KeyError(msg)


def run_ours(args: argparse.Namespace, peaks: dict[str, float]) -> dict[str, float]:
    """``predict_scene`` from the checkpoint path, as ``axion-stage3 predict --no-lpips --quiet`` runs it."""
    from axion_terratorch.inference.pipeline import predict_scene
    from axion_terratorch.inference.scene import GroundingOptions

    options = GroundingOptions(
        window=args.window, overlap=args.overlap, batch_size=args.batch_size, progress=False
    )
    start = time.perf_counter()
    predict_scene(args.checkpoint, args.s1, args.optical, args.output, options, lpips=False)
    return {"total": time.perf_counter() - start}


def run_terratorch(args: argparse.Namespace, peaks: dict[str, float]) -> dict[str, float]:
    """Whole-scene read, ``tiled_inference`` and one rasterio write, each phase timed; ``peaks`` gets
    the peak resident memory (MiB) at the end of each phase."""
    import rasterio
    import torch
    from terratorch.tasks.tiled_inference import tiled_inference

    from axion_terratorch.checkpoints.loading import load_model
    from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY

    phases = {}
    start = clock = time.perf_counter()
    model = load_model(args.checkpoint)
    phases["load model"], clock = time.perf_counter() - clock, time.perf_counter()
    peaks["load model"] = vm_kib("VmHWM") / 1024
    with rasterio.open(args.s1) as sar_src, rasterio.open(args.optical) as opt_src:
        sar = torch.from_numpy(sar_src.read(out_dtype="float32"))
        optical = torch.from_numpy(opt_src.read(out_dtype="float32"))
        profile, descriptions = opt_src.profile, opt_src.descriptions
    phases["read scene"], clock = time.perf_counter() - clock, time.perf_counter()
    peaks["read scene"] = vm_kib("VmHWM") / 1024
    with torch.inference_mode():
        grounded = tiled_inference(
            model,
            {SAR_KEY: sar[None], OPTICAL_KEY: optical[None]},
            crop=args.window,
            stride=args.window - args.overlap,
            delta=0,
            padding=False,
            batch_size=args.batch_size,
        )[0]
    phases["tiled_inference"], clock = time.perf_counter() - clock, time.perf_counter()
    peaks["tiled_inference"] = vm_kib("VmHWM") / 1024
    profile.update(dtype="float32", compress="deflate", tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(args.output, "w", **profile) as dst:
        dst.write(grounded.numpy())
        dst.descriptions = descriptions
    phases["write"] = time.perf_counter() - clock
    peaks["write"] = vm_kib("VmHWM") / 1024
    phases["total"] = time.perf_counter() - start
    return phases


def run_floor(args: argparse.Namespace, peaks: dict[str, float]) -> dict[str, float]:
    """What any windowed tool needs: the model loaded and one forward pass of a batch of windows."""
    import torch

    from axion_terratorch.checkpoints.loading import load_model
    from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY

    start = time.perf_counter()
    model = load_model(args.checkpoint)
    peaks["load model"] = vm_kib("VmHWM") / 1024
    shape = (args.batch_size, -1, args.window, args.window)
    batch = {
        SAR_KEY: torch.full((args.batch_size * 2 * args.window**2,), -12.0).reshape(shape),
        OPTICAL_KEY: torch.full((args.batch_size * 4 * args.window**2,), 0.1).reshape(shape),
    }
    with torch.inference_mode():
        model(batch)
    peaks["one batch"] = vm_kib("VmHWM") / 1024
    return {"total": time.perf_counter() - start}


def worker(args: argparse.Namespace) -> None:
    """One run in this process: import its side's modules, note the resident memory, run, report."""
    # The checkpoint's model classes (and terratorch, which they import), on every side.
    import axion_terratorch.models

    if args.worker == "terratorch":
        import rasterio  # noqa: F401
        import terratorch.tasks.tiled_inference  # noqa: F401

        import axion_terratorch.checkpoints.loading
    else:
        import axion_terratorch.inference.pipeline  # noqa: F401 - what `axion-stage3 predict` imports
    baseline = vm_kib("VmRSS")
    peaks: dict[str, float] = {}
    run = {"ours": run_ours, "terratorch": run_terratorch, "floor": run_floor}[args.worker]
    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = run(args, peaks)
    after = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "seconds": seconds,
        "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "rss_after_imports_mib": baseline / 1024,
        "peak_rss_mib": vm_kib("VmHWM") / 1024,
        "peak_rss_after_phase_mib": peaks,
    }
    Path(args.report).write_text(json.dumps(report))


def run_side(side: str, folder: Path, args: argparse.Namespace) -> dict:
    """Run ``side`` in a fresh subprocess; return its report."""
    report = folder / f"report_{side}.json"
    command = [
        sys.executable, __file__, "--worker", side, "--report", str(report),
        "--checkpoint", str(folder / "tiny.ckpt"), "--s1", str(folder / f"s1_{args.size}.tif"),
        "--optical", str(folder / f"optical_{args.size}.tif"), "--output", str(folder / f"{side}.tif"),
        "--window", str(args.window), "--overlap", str(args.overlap), "--batch-size", str(args.batch_size),
    ]  # fmt: skip
    subprocess.run(command, check=True, env=os.environ | {"OMP_NUM_THREADS": str(args.threads)})
    return json.loads(report.read_text())


def write_checkpoint(path: Path) -> None:
    """A tiny residual model with random weights (head and LoRA B non-zero), saved as ``terratorch fit`` does."""
    import torch

    from axion_terratorch.constants import DEFAULT_BANDS
    from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding

    torch.manual_seed(0)
    lora = {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": None, "freeze_base_model": True}
    init_args = {
        "variant": "tiny",
        "pretrained": False,
        "bands": list(DEFAULT_BANDS),
        "lora": lora,
        "decoder": "unet",
    }
    model = TerraMindResidualGrounding(**(init_args | {"lora": LoraSettings(**lora)}))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("head.2") or "lora_B" in name:
                param.copy_(torch.randn(param.shape) * 0.05)
    config = {"class_path": "axion_terratorch.models.TerraMindResidualGrounding", "init_args": init_args}
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"model": config}}, path)


def overlap_mask(size: int, window: int, overlap: int) -> np.ndarray:
    """bool ``(size, size)``: pixels covered by more than one window."""
    from axion_terratorch.datasets.tiling import window_starts

    count = np.zeros(size, dtype=int)
    for start in window_starts(size, window, overlap):
        count[start : start + min(window, size)] += 1
    return (count[:, None] > 1) | (count[None, :] > 1)


def differences(ours: Path, theirs: Path, args: argparse.Namespace) -> dict[str, float]:
    """Largest absolute difference of the two outputs: everywhere, inside one window, in overlaps."""
    import rasterio
    from rasterio.windows import Window

    overlaps = overlap_mask(args.size, args.window, args.overlap)
    worst = {"all": 0.0, "one window": 0.0, "overlaps": 0.0}
    with rasterio.open(ours) as a, rasterio.open(theirs) as b:
        for row in range(0, args.size, 512):
            rows = Window(0, row, args.size, min(512, args.size - row))
            diff = np.abs(a.read(window=rows) - b.read(window=rows)).max(axis=0)
            mask = overlaps[row : row + rows.height]
            worst["all"] = max(worst["all"], float(diff.max()))
            worst["one window"] = max(worst["one window"], float(diff[~mask].max(initial=0)))
            worst["overlaps"] = max(worst["overlaps"], float(diff[mask].max(initial=0)))
    return worst


def compare(args: argparse.Namespace) -> None:
    """Write the scene and checkpoint, run both sides interleaved, print and write the results."""
    from predict_scaling import write_scene

    from axion_terratorch.atomic import atomic_path

    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        folder = Path(tmp)
        write_scene(folder, args.size)
        write_checkpoint(folder / "tiny.ckpt")
        runs: dict[str, list[dict]] = {side: [] for side in (*SIDES, "floor")}
        for repeat in range(args.repeats):
            runs["floor"].append(run_side("floor", folder, args))
            for side in SIDES:
                runs[side].append(run_side(side, folder, args))
                report = runs[side][-1]
                print(f"run {repeat + 1} {side:>10}: {report['seconds']['total']:7.1f} s, "
                      f"CPU {report['cpu_seconds']:7.1f} s, peak RSS {report['peak_rss_mib']:7.0f} MiB",
                      flush=True)  # fmt: skip
        diff = differences(folder / "ours.tif", folder / "terratorch.tif", args)
    pairs = list(zip(runs["ours"], runs["terratorch"], strict=True))
    median = {
        side: {
            "seconds": statistics.median(r["seconds"]["total"] for r in runs[side]),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs[side]),
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs[side]),
            "rss_after_imports_mib": statistics.median(r["rss_after_imports_mib"] for r in runs[side]),
        }
        for side in runs
    }
    floor = median["floor"]["peak_rss_mib"]
    above_floor = {side: median[side]["peak_rss_mib"] - floor for side in SIDES}
    record = {
        "machine": platform.processor() or platform.machine(),
        "args": {k: v for k, v in vars(args).items() if k in ("size", "window", "overlap", "batch_size", "repeats", "threads")},
        "time_ratio": statistics.median(o["seconds"]["total"] / t["seconds"]["total"] for o, t in pairs),
        "cpu_time_ratio": statistics.median(o["cpu_seconds"] / t["cpu_seconds"] for o, t in pairs),
        "peak_memory_ratio": statistics.median(o["peak_rss_mib"] / t["peak_rss_mib"] for o, t in pairs),
        "max_abs_difference": diff["all"],
        "max_abs_difference_one_window": diff["one window"],
        "max_abs_difference_overlaps": diff["overlaps"],
        "floor_peak_rss_mib": floor,
        "peak_rss_above_floor_mib": above_floor,
        "medians": median,
        "runs": runs,
    }  # fmt: skip
    print(f"\n{args.size} x {args.size} px, window {args.window}, overlap {args.overlap}, "
          f"batch {args.batch_size}, {args.repeats} interleaved pairs (medians)")  # fmt: skip
    print(
        f"{'':>12} {'seconds':>9} {'CPU s':>9} {'peak RSS MiB':>13} {'after imports':>14} {'above floor':>12}"
    )
    for side in SIDES:
        m = median[side]
        print(f"{side:>12} {m['seconds']:9.1f} {m['cpu_seconds']:9.1f} {m['peak_rss_mib']:13.0f} "
              f"{m['rss_after_imports_mib']:14.0f} {above_floor[side]:12.0f}")  # fmt: skip
    print(f"floor (imports, model, one batch of {args.batch_size} windows): {floor:.0f} MiB")
    print(f"time ratio {record['time_ratio']:.2f} (CPU time {record['cpu_time_ratio']:.2f}), "
          f"peak memory ratio {record['peak_memory_ratio']:.2f}, "
          f"max |difference| {diff['all']:.2e} (inside one window {diff['one window']:.2e}, "
          f"overlaps {diff['overlaps']:.2e})")  # fmt: skip
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(record, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="scene side N in px")
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved pairs of runs")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the runs")
    parser.add_argument("--scratch", type=Path, help="folder of the temporary scene (default: the system's)")
    parser.add_argument("--json", type=Path)
    for internal in ("--worker", "--report", "--checkpoint", "--s1", "--optical", "--output"):
        parser.add_argument(internal, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
