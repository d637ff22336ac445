"""The Stage 2 degradation proxy."""

import numpy as np
from tile_writers import scene

from axion_terratorch.datasets.degradation import stage2_proxy


def test_proxy_is_a_function_of_seed_and_tile_name():
    target = scene(0, 48)[1][:4] / 10000
    first = stage2_proxy(target, "tile_a", seed=3)
    assert np.array_equal(first, stage2_proxy(target.copy(), "tile_a", seed=3))
    assert not np.array_equal(first, stage2_proxy(target, "tile_b", seed=3))
    assert not np.array_equal(first, stage2_proxy(target, "tile_a", seed=4))


def test_proxy_is_close_but_degraded():
    target = scene(1, 48)[1][:4] / 10000
    proxy = stage2_proxy(target, "t")
    psnr = 10 * np.log10(1 / np.mean((proxy - target) ** 2))
    assert proxy.dtype == np.float32
    assert proxy.min() >= 0
    assert 20 < psnr < 45


def test_nodata_does_not_bleed_into_valid_pixels():
    target = np.full((2, 32, 32), 0.2, np.float32)
    valid = np.ones((32, 32), bool)
    valid[:, :8] = False
    target[:, ~valid] = 0  # zero-filled nodata
    proxy = stage2_proxy(target, "t", valid=valid)
    # Gains are 0.9-1.1 and noise 0.01: a blur of the zeros would pull the edge far lower.
    assert proxy[:, :, 8:11].mean() > 0.16
