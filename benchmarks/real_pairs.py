# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Train the real-data recipe and score it on the held-out real pairs, with and without SAR.

Runs ``terratorch fit -c configs/stage3.real.yaml`` from the checkout root (outputs redirected into
``--work-dir``), then grounds every held-out pair (the recipe's validation and test locations) with
the selected checkpoint and scores it against the true Sentinel-2 with the same code as
``axion-stage3 evaluate`` (:func:`~axion_terratorch.inference.tile_scores.score_tiles`): PSNR, SSIM
and SAM of input and output, SAR agreement of input, output and truth, the excess over the truth's
agreement, the copy-of-SAR ratio and the quality check's verdict. The ``no-sar`` variant trains and
predicts with the SAR replaced by its mean (:class:`~axion_terratorch.callbacks.SARAblation`), and is
scored against the real SAR: the difference shows what Sentinel-1 adds.

Usage::

    python benchmarks/real_pairs.py --json benchmarks/real_pairs.json [--max-steps 400]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from axion_terratorch.atomic import atomic_path
from axion_terratorch.callbacks.sar_ablation import ablate_sar
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.inference.checkpoint import load_model, read_checkpoint
from axion_terratorch.inference.evaluation import build_datamodule, iterate_batches
from axion_terratorch.inference.tile_scores import score_tiles

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "stage3.real.yaml"
VARIANTS = ("full", "no-sar")
COLUMNS = (
    "psnr_input", "psnr", "psnr_gain", "ssim_input", "ssim", "sam_input", "sam",
    "sar_agreement_input", "sar_agreement", "sar_agreement_target", "sar_agreement_excess",
    "copy_of_sar_ratio", "quality_flag",
)  # fmt: skip


def run_config(work: Path, variant: str, max_steps: int | None, overrides: list[str] = ()) -> Path:
    """The recipe with every output under ``work`` (and the SAR ablation for ``no-sar``).

    ``overrides`` are ``dotted.key=YAML value`` strings, e.g.
    ``model.init_args.loss.init_args.sar_consistency_weight=0``.
    """
    config = yaml.safe_load(RECIPE.read_text())
    for override in overrides:
        key, _, value = override.partition("=")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    trainer = config["trainer"]
    trainer["default_root_dir"] = str(work)  # the recipe's logs and checkpoints follow its root
    if variant == "no-sar":
        trainer["callbacks"].append(
            {"class_path": "axion_terratorch.callbacks.SARAblation", "init_args": {"mode": "mean"}}
        )
    if max_steps is not None:
        trainer["max_steps"] = max_steps
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train(config: Path) -> float:
    """``terratorch fit -c config`` from the checkout root; its wall time in seconds."""
    start = time.perf_counter()
    terratorch = Path(sys.executable).with_name("terratorch")
    subprocess.run([str(terratorch), "fit", "-c", str(config)], cwd=REPO, check=True)
    return time.perf_counter() - start


def score_held_out(
    checkpoint: Path, config: Path, variant: str, proxy_seed: int = 0
) -> list[dict[str, object]]:
    """Scores of every validation and test tile (held-out locations), named by tile.

    ``proxy_seed`` draws another Stage 2 proxy of the same pairs (``tiles.seed``; the recipe trains
    and selects with 0): one draw of blur, shift, band gains and noise per pair is a small sample.
    """
    model = load_model(checkpoint)
    settings = yaml.safe_load(config.read_text())
    settings["data"]["init_args"]["tiles"]["seed"] = proxy_seed
    datamodule = build_datamodule(settings)
    rows = []
    for split in ("val", "test"):
        scores = []
        with torch.inference_mode():
            for batch in iterate_batches(datamodule, split, torch.device("cpu")):
                image = dict(batch["image"])
                sar = image[SAR_KEY]
                if variant == "no-sar":
                    image[SAR_KEY] = ablate_sar(sar, "mean")
                output = model(image)
                scores += score_tiles(
                    output, image[OPTICAL_KEY], sar, model.bands, batch["target"], batch.get("valid_mask")
                )
        names = getattr(datamodule, f"{split}_dataset").names
        rows += [
            {"variant": variant, "proxy_seed": proxy_seed, "split": split, "tile": name, **row}
            for name, row in zip(names, scores, strict=True)
        ]
    return rows


def targets_met(row: dict[str, object]) -> dict[str, bool]:
    """The issue's targets for one held-out pair."""
    gap = abs(row["sar_agreement_target"] - row["sar_agreement_input"])
    return {
        "psnr_not_lowered": row["psnr_gain"] >= -0.1,
        "excess_within_half_gap": row["sar_agreement_excess"] <= 0.5 * gap,
        "copy_of_sar_ratio_above_1_5": row["copy_of_sar_ratio"] >= 1.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=REPO / "outputs" / "benchmark_real_pairs")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--max-steps", type=int, help="override the recipe's trainer.max_steps")
    parser.add_argument(
        "--proxy-seeds",
        nargs="+",
        type=int,
        default=[0],
        help="score the held-out pairs under these proxy draws",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    parser.add_argument("--json", type=Path, help="write the rows and run facts here")
    parser.add_argument(
        "--reuse", action="store_true", help="score a variant's earlier run instead of training"
    )
    args = parser.parse_args()
    rows, runs = [], {}
    for variant in args.variants:
        work = args.work_dir / variant
        config = run_config(work, variant, args.max_steps, args.set)
        seconds = None if args.reuse and (work / "checkpoints" / "last.ckpt").is_file() else train(config)
        best = next(iter(sorted((work / "checkpoints").glob("best-*.ckpt"))))
        runs[variant] = {
            "train_seconds": seconds,
            "best_checkpoint": best.name,
            "last_checkpoint_step": int(read_checkpoint(work / "checkpoints" / "last.ckpt")["global_step"]),
        }
        for seed in args.proxy_seeds:
            rows += score_held_out(best, config, variant, seed)
    for row in rows:
        row["targets"] = targets_met(row)
    header = f"{'variant':8s} {'seed':>4s} {'split':5s} {'tile':10s} " + " ".join(
        f"{c[:12]:>12s}" for c in COLUMNS
    )
    print(header)
    for row in rows:
        values = " ".join(
            f"{row[c]:>12.4f}" if isinstance(row[c], float) and math.isfinite(row[c]) else f"{row[c]!s:>12s}"
            for c in COLUMNS
        )
        print(f"{row['variant']:8s} {row['proxy_seed']:4d} {row['split']:5s} {row['tile']!s:10s} {values}")
    for variant, facts in runs.items():
        took = "reused" if facts["train_seconds"] is None else f"trained in {facts['train_seconds']:.0f} s"
        print(
            f"{variant}: {took}, best {facts['best_checkpoint']}, last.ckpt at step {facts['last_checkpoint_step']}"
        )
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"overrides": args.set, "runs": runs, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
