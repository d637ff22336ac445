"""Panels of grounded tiles, the one place images are drawn.

:func:`render_panel` (the ``ExampleImages`` callback): SAR, Stage 2 input, grounded output and target,
each over its edge map. :func:`save_comparison_panel` (the evaluation report): input, output, their
change, SAR VV and target side by side, written as PNG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import sobel
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import rgb_indices

#: Width and height of one image of a panel, in pixels.
CELL_PIXELS = 256
#: Percentiles of the contrast stretch of SAR and RGB images.
STRETCH_PERCENTILES = (2.0, 98.0)
#: Percentile of an edge map shown as white.
EDGE_PERCENTILE = 99.0
#: Reflectance shown as white in the RGB views of :func:`save_comparison_panel`.
RGB_MAX = 0.3
_DPI = 100


@dataclass(frozen=True)
class Tile:
    """One validation tile as float arrays: SAR ``(2, H, W)`` dB, optical images ``(C, H, W)``."""

    sar: np.ndarray
    optical: np.ndarray
    output: np.ndarray
    target: np.ndarray | None = None


def stretch(image: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map ``(3, H, W)`` from per-channel ``[low, high]`` to an ``(H, W, 3)`` image in ``[0, 1]``."""
    scaled = (image - low[:, None, None]) / np.maximum(high - low, 1e-12)[:, None, None]
    return np.clip(np.nan_to_num(scaled), 0.0, 1.0).transpose(1, 2, 0)


def percentiles(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``STRETCH_PERCENTILES`` of ``(C, H, W)``, ignoring NaN."""
    low, high = np.nanpercentile(image.reshape(image.shape[0], -1), STRETCH_PERCENTILES, axis=1)
    return low, high


def sar_composite(sar: np.ndarray) -> np.ndarray:
    """False-colour ``(H, W, 3)``: red VV, green VH, blue VV - VH (dB), each stretched on its own."""
    vv, vh = sar
    channels = np.stack([vv, vh, vv - vh])
    return stretch(channels, *percentiles(channels))


def edge_map(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an ``(H, W)`` image (kornia); NaN counts as 0."""
    tensor = torch.from_numpy(np.nan_to_num(gray).astype(np.float32))[None, None]
    return sobel(tensor)[0, 0].numpy()


def luminance_edges(image: np.ndarray, rgb: Sequence[int]) -> np.ndarray:
    """:func:`edge_map` of the BT.601 luminance (kornia's ``rgb_to_grayscale``) of ``(C, H, W)``;
    ``rgb`` the positions of B04, B03, B02."""
    gray = rgb_to_grayscale(torch.from_numpy(np.ascontiguousarray(image[list(rgb)], dtype=np.float32)))
    return edge_map(gray[0].numpy())


def render_panel(tile: Tile, rgb: Sequence[int], title: str) -> np.ndarray:
    """Render a tile as an ``(2 * CELL_PIXELS, n * CELL_PIXELS, 3)`` uint8 image.

    Top row: SAR composite, Stage 2 input, grounded output and (when present) target in RGB, the
    three optical images with one stretch (the input's percentiles) so they are comparable. Bottom
    row: their edge maps; SAR edges on mean(VV, VH), optical edges on luminance, the optical ones on
    one scale (the input's ``EDGE_PERCENTILE``).
    """
    optical = {"Stage 2 input": tile.optical, "grounded output": tile.output}
    if tile.target is not None:
        optical["target"] = tile.target
    low, high = percentiles(tile.optical[list(rgb)])
    edges = {name: luminance_edges(image, rgb) for name, image in optical.items()}
    edge_max = max(float(np.percentile(edges["Stage 2 input"], EDGE_PERCENTILE)), 1e-12)
    sar_edges = edge_map(tile.sar.mean(axis=0))

    columns = 1 + len(optical)
    inches = CELL_PIXELS / _DPI
    figure = Figure(figsize=(columns * inches, 2 * inches), dpi=_DPI, layout="constrained")
    axes = figure.subplots(2, columns, squeeze=False)
    axes[0, 0].imshow(sar_composite(tile.sar))
    axes[0, 0].set_title("SAR (VV, VH, VV-VH)", fontsize=8)
    axes[1, 0].imshow(sar_edges, cmap="gray", vmin=0.0, vmax=float(np.percentile(sar_edges, EDGE_PERCENTILE)))
    axes[1, 0].set_title("SAR edges", fontsize=8)
    for column, (name, image) in enumerate(optical.items(), start=1):
        axes[0, column].imshow(stretch(image[list(rgb)], low, high))
        axes[0, column].set_title(f"{name} (RGB)", fontsize=8)
        axes[1, column].imshow(edges[name], cmap="gray", vmin=0.0, vmax=edge_max)
        axes[1, column].set_title(f"{name} edges", fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    figure.suptitle(title, fontsize=9)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _rgb(image: np.ndarray, bands: Sequence[str]) -> np.ndarray:
    return np.clip(image[list(rgb_indices(bands))].transpose(1, 2, 0) / RGB_MAX, 0, 1)


def save_comparison_panel(
    tile: Mapping[str, np.ndarray], bands: Sequence[str], title: str, path: str | os.PathLike[str]
) -> None:
    """Write one tile's comparison panel as PNG, atomically.

    ``tile`` holds ``optical``, ``output``, ``sar`` and optionally ``target`` as ``(C, H, W)`` arrays;
    RGB views show reflectance ``[0, RGB_MAX]``.
    """
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
