"""Research-code example: a Stage 2 error model of your own for ``tiles.stage2_errors``.

A Stage 2 estimate composited from several acquisitions (cloud-free mosaicking) has seams: on one
side of a line the image comes from another date, with other band gains. ``MosaicSeams`` puts one
such seam into each draw. Train with it from YAML: a file ``seams.yaml`` holding::

    data:
      init_args:
        root: tiles/
        tiles:
          stage2_dir: null
          stage2_proxy: true
          resample_proxy: true
          stage2_errors:
            class_path: mosaic_seams.MosaicSeams
            init_args: {max_gain: 0.1}

and ``PYTHONPATH=examples terratorch fit -c configs/stage3.demo.yaml -c configs/data/npz.yaml -c seams.yaml``
(``tests/examples/test_examples.py`` trains it for two steps).
"""

from __future__ import annotations

import math

import numpy as np

from axion_terratorch.datasets import StructuralErrors


class MosaicSeams(StructuralErrors):
    """A straight seam at a random angle and place; beyond it, every band scaled by its own gain.

    Args:
        max_gain: Largest relative change of a band's reflectance beyond the seam (each band's gain
            is uniform in ``[1 - max_gain, 1 + max_gain]``).
        probability: Probability that a draw has a seam.
    """

    def __init__(self, max_gain: float = 0.1, probability: float = 1.0) -> None:
        if not 0 < max_gain < 1:
            msg = f"max_gain must be in (0, 1), got {max_gain}"
            raise ValueError(msg)
        if not 0 <= probability <= 1:
            msg = f"probability must be in [0, 1], got {probability}"
            raise ValueError(msg)
        self.max_gain = max_gain
        self.probability = probability

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The image with one seam (or none), and the mask of the side that was changed."""
        bands, height, width = image.shape
        if rng.random() >= self.probability:
            return image, np.zeros((height, width))
        angle = rng.uniform(0, 2 * math.pi)
        offset = rng.uniform(-0.3, 0.3) * min(height, width)
        rows, cols = np.mgrid[:height, :width]
        across = (cols - width / 2) * math.cos(angle) + (rows - height / 2) * math.sin(angle)
        beyond = across > offset
        gains = rng.uniform(1 - self.max_gain, 1 + self.max_gain, size=(bands, 1, 1))
        return np.where(beyond, image * gains, image), beyond.astype(np.float64)
