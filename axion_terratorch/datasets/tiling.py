"""Sliding-window layout and blending weights for scenes larger than one model window.

Windows overlap by ``overlap`` px; every window is weighted by a separable cosine ramp that falls
from 1 to nearly 0 across the overlap, so neighbouring predictions cross-fade instead of meeting at
a seam. Because the layout is a product of a row layout and a column layout and the weight is
separable, the sum of weights covering a pixel is ``rows_total[y] * cols_total[x]``: windows can be
normalised one at a time, with ``O(H + W)`` memory, and their contributions simply added.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def window_starts(size: int, window: int, overlap: int) -> list[int]:
    """Start offsets of windows of ``window`` px covering ``size`` px with at least ``overlap`` px overlap.

    The last window is moved back to end at ``size`` (it then overlaps its neighbour more); a scene
    smaller than a window gets one window of the scene's size.

    Raises:
        ValueError: If ``window < 1``, ``overlap < 0`` or ``overlap >= window``.
    """
    if window < 1:
        msg = f"window must be >= 1 px, got {window}"
        raise ValueError(msg)
    if not 0 <= overlap < window:
        msg = f"overlap must be in [0, window={window}), got {overlap}"
        raise ValueError(msg)
    if size <= window:
        return [0]
    stride = window - overlap
    count = math.ceil((size - window) / stride) + 1
    return [min(i * stride, size - window) for i in range(count)]


def ramp(length: int, overlap: int) -> np.ndarray:
    """1-D blending weight of a window: a raised-cosine rise over ``overlap`` px at both ends, else 1.

    Strictly positive (the outermost pixel gets about ``(pi / 2 overlap)^2``), so a pixel covered by
    one window only is still normalised to that window's prediction. float64, shape ``(length,)``.
    """
    weight = np.ones(length)
    side = min(overlap, length // 2)
    if side:
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(side) + 0.5) / side)
        weight[:side] = rise
        weight[length - side :] = rise[::-1]
    return weight


@dataclass(frozen=True)
class Window:
    """One model window: rows ``row:row + height``, columns ``col:col + width`` of the scene."""

    row: int
    col: int
    height: int
    width: int


class TileLayout:
    """Windows over a ``height`` x ``width`` scene and the normalised weight of each.

    Args:
        height: Scene rows.
        width: Scene columns.
        window: Window side in px (the last row/column of windows is shifted back to fit).
        overlap: Minimum overlap of neighbouring windows in px.
    """

    def __init__(self, height: int, width: int, window: int, overlap: int) -> None:
        self.height, self.width = height, width
        self.rows = window_starts(height, window, overlap)
        self.cols = window_starts(width, window, overlap)
        self.win_h, self.win_w = min(window, height), min(window, width)
        self._ramp_h, self._ramp_w = ramp(self.win_h, overlap), ramp(self.win_w, overlap)
        self._total_h = _coverage(self.rows, self._ramp_h, height)
        self._total_w = _coverage(self.cols, self._ramp_w, width)

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def __iter__(self) -> Iterator[Window]:
        """Windows in row-major order."""
        for row in self.rows:
            for col in self.cols:
                yield Window(row, col, self.win_h, self.win_w)

    def weight(self, window: Window) -> np.ndarray:
        """float32 ``(height, width)`` weight of ``window``: the weights of all windows sum to 1 at each pixel."""
        rows = self._ramp_h / self._total_h[window.row : window.row + window.height]
        cols = self._ramp_w / self._total_w[window.col : window.col + window.width]
        return np.outer(rows, cols).astype(np.float32)


def _coverage(starts: list[int], weight: np.ndarray, size: int) -> np.ndarray:
    total = np.zeros(size)
    for start in starts:
        total[start : start + len(weight)] += weight
    return total
