"""Sliding-window layout and blending weights: moved to :mod:`axion_terratorch.datasets.tiling`
(the data modules read scenes by the same layout); re-exported here."""

from axion_terratorch.datasets.tiling import TileLayout, Window, ramp, window_starts

__all__ = ["TileLayout", "Window", "ramp", "window_starts"]
