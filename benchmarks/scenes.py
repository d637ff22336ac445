# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""A scene list against a shell loop of single-scene ``predict`` calls: time, processes, memory.

Writes ``--scenes`` synthetic S1/optical GeoTIFF pairs of ``--size`` px and a tiny residual model's
checkpoint (random weights, LoRA; written as ``terratorch fit`` writes one), then runs, each as its
own ``axion-stage3`` process:

* ``loop``: one ``axion-stage3 predict`` per scene (imports and model load paid every time);
* ``list``: one ``axion-stage3 predict --scenes`` over all of them;
* ``list_2proc``: the same with ``--devices 2 --strategy ddp`` (gloo on the CPU);
* ``list_2scenes``: the list over the first 2 scenes only, for the memory growth.

It reports ``loop_time_ratio`` (list time / loop time), both list runs' scenes per minute,
``memory_growth_ratio`` (peak resident memory of the list over all scenes / over 2 scenes; the
largest process, children waited for included) and whether every output of each list run is
bit-identical to the loop's. Lightning gives each of N CPU processes cores / N threads (unless
``OMP_NUM_THREADS`` is set), and float sums depend on the thread count, so the 2-process outputs
equal the loop's only when both run with the same threads per process.

Usage::

    python benchmarks/scenes.py --scenes 8 --size 512 --json benchmarks/scenes.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from predict_scaling import write_scene

from axion_terratorch.checkpoints.loading import build_model
from axion_terratorch.constants import DEFAULT_BANDS

MODEL = {
    "class_path": "axion_terratorch.models.TerraMindResidualGrounding",
    "init_args": {
        "variant": "tiny",
        "pretrained": False,
        "bands": list(DEFAULT_BANDS),
        "lora": {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": None, "freeze_base_model": True},
        "ckpt_path": None,
        "decoder": "unet",
    },
}
#: Runs one command and prints its wall time and the peak resident memory of its processes (KiB).
_MEASURE = (
    "import resource, subprocess, sys, time; start = time.perf_counter(); "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "code and sys.exit(f'exit {code}'); "
    "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def write_checkpoint(path: Path) -> Path:
    """The tiny model's checkpoint, as ``terratorch fit`` stores it (``model.`` weights and config)."""
    torch.manual_seed(0)
    model = build_model(MODEL)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"model": MODEL}}, path)
    return path


def measured(command: list[str]) -> tuple[float, float]:
    """``(seconds, peak resident MiB)`` of ``command`` run in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        msg = f"{' '.join(command)} failed (exit {out.returncode}): {out.stderr.strip()[-2000:]}"
        raise RuntimeError(msg)
    seconds, kib = out.stdout.split()
    return float(seconds), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    predict = [sys.executable, "-m", "axion_terratorch.cli", "predict", "--no-lpips", "--quiet"]
    tiling = [
        "--window",
        str(args.window),
        "--overlap",
        str(args.overlap),
        "--batch-size",
        str(args.batch_size),
    ]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ckpt = write_checkpoint(root / "model.ckpt")
        pairs = []
        for seed in range(args.scenes):
            scene = root / "scenes" / f"scene{seed}"
            scene.mkdir(parents=True)
            pairs.append((f"scene{seed}", *write_scene(scene, args.size, seed)))
        for name, count in (("all", args.scenes), ("two", 2)):
            rows = "".join(f"{s1},{opt},{scene}\n" for scene, s1, opt in pairs[:count])
            (root / f"{name}.csv").write_text("s1,optical,name\n" + rows)
        common = [*predict, "--checkpoint", str(ckpt), *tiling]
        start = time.perf_counter()
        for scene, s1, opt in pairs:
            subprocess.run(
                [
                    *common,
                    "--s1",
                    str(s1),
                    "--optical",
                    str(opt),
                    "--output",
                    str(root / "loop" / f"{scene}.tif"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        loop_seconds = time.perf_counter() - start
        runs = {
            "list": measured(
                [*common, "--scenes", str(root / "all.csv"), "--output-dir", str(root / "list")]
            ),
            "list_2proc": measured(
                [
                    *common,
                    "--scenes",
                    str(root / "all.csv"),
                    "--output-dir",
                    str(root / "list2"),
                    "--devices",
                    "2",
                    "--strategy",
                    "ddp",
                ]
            ),
            "list_2scenes": measured(
                [*common, "--scenes", str(root / "two.csv"), "--output-dir", str(root / "list_two")]
            ),
        }
        identical = {
            run: all(
                (root / "loop" / f"{scene}.tif").read_bytes() == (root / run / f"{scene}.tif").read_bytes()
                for scene, *_ in pairs
            )
            for run in ("list", "list2")
        }
    result = {
        "scenes": args.scenes,
        "size": args.size,
        "window": args.window,
        "overlap": args.overlap,
        "batch_size": args.batch_size,
        "loop_seconds": round(loop_seconds, 1),
        "list_seconds": round(runs["list"][0], 1),
        "list_2proc_seconds": round(runs["list_2proc"][0], 1),
        "loop_time_ratio": round(runs["list"][0] / loop_seconds, 3),
        "scenes_per_minute_1proc": round(60 * args.scenes / runs["list"][0], 2),
        "scenes_per_minute_2proc": round(60 * args.scenes / runs["list_2proc"][0], 2),
        "peak_rss_mib_all_scenes": round(runs["list"][1]),
        "peak_rss_mib_2_scenes": round(runs["list_2scenes"][1]),
        "memory_growth_ratio": round(runs["list"][1] / runs["list_2scenes"][1], 3),
        "bit_identical_to_loop": identical["list"],
        "bit_identical_to_loop_2proc": identical["list2"],
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
