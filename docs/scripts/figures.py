"""Saving the documentation's figures small: a 128-colour PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image


def save_figure(figure: Figure, path: Path) -> None:
    """Draw ``figure`` and write it to ``path`` as an optimised 128-colour PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.canvas.draw()
    pixels = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3])
    pixels.quantize(colors=128).save(path, optimize=True)
