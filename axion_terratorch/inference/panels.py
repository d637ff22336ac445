"""PNG panels of chosen tiles: Stage 2 input, grounded output, change, SAR and target side by side."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY, rgb_indices
from axion_terratorch.inference.tile_scores import Row

#: Reflectance shown as white in the RGB views.
RGB_MAX = 0.3


def pick_tiles(rows: Sequence[Row], key: str = "sar_agreement_gain") -> dict[str, int]:
    """Positions (dataset order) of the ``best``, ``median`` and ``worst`` rows by ``key`` (higher is better)."""
    order = sorted(range(len(rows)), key=lambda i: float(rows[i][key]))
    return {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}


def collect_tiles(
    model: nn.Module, batches: Iterator[dict[str, Any]], indices: Sequence[int], target_key: str = "target"
) -> dict[int, dict[str, np.ndarray]]:
    """Inputs, output and target of the tiles at ``indices`` (dataset order), as numpy arrays."""
    wanted, found, seen = set(indices), {}, 0
    with torch.inference_mode():
        for batch in batches:
            size = batch["image"][OPTICAL_KEY].shape[0]
            hits = [i for i in range(size) if seen + i in wanted]
            if hits:
                output = model(batch["image"])
                for i in hits:
                    tile = {
                        "optical": batch["image"][OPTICAL_KEY][i],
                        "sar": batch["image"][SAR_KEY][i],
                        "output": output[i],
                    }
                    if batch.get(target_key) is not None:
                        tile["target"] = batch[target_key][i]
                    found[seen + i] = {k: v.float().cpu().numpy() for k, v in tile.items()}
            seen += size
            if wanted <= found.keys():
                break
    return found


def _rgb(image: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    return np.clip(image[list(rgb_indices(bands))].transpose(1, 2, 0) / RGB_MAX, 0, 1)


def render_panel(
    tile: Mapping[str, np.ndarray], bands: Sequence[str], title: str, path: str | os.PathLike[str]
) -> None:
    """Write one tile's panel as PNG, atomically."""
    views: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("Stage 2 input", _rgb(tile["optical"], bands), {}),
        ("grounded output", _rgb(tile["output"], bands), {}),
        (
            "|output - input| (mean over bands)",
            np.abs(tile["output"] - tile["optical"]).mean(axis=0),
            {"cmap": "magma"},
        ),
        ("Sentinel-1 VV (dB)", tile["sar"][0], {"cmap": "gray"}),
    ]
    if "target" in tile:
        views.append(("target", _rgb(tile["target"], bands), {}))
    figure = Figure(figsize=(3 * len(views), 3.4))
    for axis, (name, image, style) in zip(figure.subplots(1, len(views)), views, strict=True):
        shown = axis.imshow(image, **style)
        if style:
            figure.colorbar(shown, ax=axis, fraction=0.046)
        axis.set_title(name, fontsize=9)
        axis.set_axis_off()
    figure.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")


def write_panels(
    tiles: Mapping[str, int],
    found: Mapping[int, Mapping[str, np.ndarray]],
    rows: Sequence[Row],
    bands: Sequence[str],
    folder: str | os.PathLike[str],
) -> list[Path]:
    """One PNG per label (``best``, ``median``, ``worst``) in ``folder``, titled with the tile's name.

    ``tiles`` maps labels to row positions (:func:`pick_tiles`); returns the paths.
    """
    paths = []
    for label, index in tiles.items():
        row = rows[index]
        title = (
            f"{label}: tile {row['tile']}, SAR agreement {row['sar_agreement_input']:.3f} -> "
            f"{row['sar_agreement_output']:.3f} (gain {row['sar_agreement_gain']:+.3f})"
        )
        path = Path(folder) / f"panel_{label}.png"
        render_panel(found[index], bands, title, path)
        paths.append(path)
    return paths
