"""Render what the SAR adds on a held-out real pair into ``docs/images/what_the_sar_adds.png``.

    PYTHONPATH=. .venv/bin/python docs/scripts/sar_ablation_picture.py --run-dir outputs/benchmark_real_pairs

Reads the ``full-seed<S>`` and ``no-sar-seed<S>`` runs of ``benchmarks/real_pairs.py`` and grounds the
held-out test pairs under one draw of an error kind with the methods the benchmark scores:
the recipe (``full``), the recipe trained without SAR (``no-sar``), the recipe given the SAR turned
180 degrees (``wrong-sar``), the SAR-guided filter and the training-free SAR fill. One row per
pair: SAR (VV), truth, input, the five outputs and the error mask; the PSNR of each against the truth is in its title.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
import yaml
from figures import save_figure

from axion_terratorch.evaluation.loop import build_datamodule, iterate_batches
from axion_terratorch.functional import psnr_from_mse, squared_error_sum
from benchmarks.real_pairs import KINDS, Methods, errors_of, held_out

REPO = Path(__file__).resolve().parents[2]
#: Reflectance shown as white.
WHITE = 0.3


def rgb(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) B02, B03, B04 first -> (H, W, 3) display RGB."""
    return np.clip(image[[2, 1, 0]].permute(1, 2, 0).numpy() / WHITE, 0, 1) ** (1 / 1.5)


def main() -> None:
    """Ground the held-out test pairs with each method and draw them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=REPO / "outputs" / "benchmark_real_pairs")
    parser.add_argument("--seed", type=int, default=0, help="training seed of the runs shown")
    parser.add_argument("--kind", choices=KINDS, default="all")
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "images" / "what_the_sar_adds.png")
    args = parser.parse_args()
    runs = {name: args.run_dir / f"{name}-seed{args.seed}" for name in ("full", "no-sar")}
    checkpoints = {
        name: next(iter(sorted((run / "checkpoints").glob("best-*.ckpt")))) for name, run in runs.items()
    }
    settings = yaml.safe_load((runs["full"] / "config.yaml").read_text())
    methods = Methods(checkpoints, tuple(settings["data"]["init_args"]["tiles"]["bands"]))
    rows = []
    for split, label, data in held_out(settings["data"]):
        if split != "test":
            continue
        data = copy.deepcopy(data)
        data["init_args"]["tiles"]["seed"] = 1000 + args.draw
        data["init_args"]["tiles"]["stage2_errors"] = errors_of(args.kind)
        with torch.inference_mode():
            for batch in iterate_batches(build_datamodule({"data": data}), split, torch.device("cpu")):
                outputs = methods(batch["image"])
                for i, name in enumerate(batch["filename"]):
                    sample = {key: batch[key][i] for key in ("target", "valid_mask", "error_mask")}
                    image = {key: value[i] for key, value in batch["image"].items()}
                    rows.append((f"{label}/{name}", sample, image, {k: v[i] for k, v in outputs.items()}))
    columns = ["S1 VV", "truth", "input", "full", "no-sar", "wrong-sar", "guided", "sar-fill", "error mask"]
    figure, axes = plt.subplots(
        len(rows), len(columns), figsize=(1.9 * len(columns), 2.0 * len(rows)), squeeze=False
    )
    for axes_row, (title, sample, image, outputs) in zip(axes, rows, strict=True):
        target, valid = sample["target"], sample["valid_mask"][None]
        panels = {"S1 VV": image["S1GRD"][0].numpy(), "truth": rgb(target), "input": rgb(image["S2L2A"])}
        names = {"input": image["S2L2A"], **outputs}
        psnr = {
            name: float(psnr_from_mse(torch.div(*squared_error_sum(output[None], target[None], valid))))
            for name, output in names.items()
        }
        panels |= {name: rgb(output) for name, output in outputs.items()}
        panels["error mask"] = sample["error_mask"][0].numpy()
        for axis, column in zip(axes_row, columns, strict=True):
            style = {"cmap": "gray", "vmin": -25, "vmax": 0} if column == "S1 VV" else {}
            style = {"cmap": "magma", "vmin": 0, "vmax": 1} if column == "error mask" else style
            axis.imshow(panels[column], **style)
            label = f"{column}\n{psnr[column]:.2f} dB" if column in psnr else column
            axis.set_title(label if column != "S1 VV" else f"{title}\nS1 VV", fontsize=7)
            axis.axis("off")
    figure.suptitle(
        f"held-out test pairs, {args.kind} errors, draw {args.draw}, seed {args.seed}", fontsize=9
    )
    figure.tight_layout()
    save_figure(figure, args.output)


if __name__ == "__main__":
    main()
