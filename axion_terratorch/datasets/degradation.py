"""A documented stand-in for a Stage 2 estimate, made by degrading the real Sentinel-2 of a tile.

Used only when a configuration asks for it (``stage2_proxy: true``) and a tile has no Stage 2 output.
The degradation mimics what Stage 2 gets wrong, with parameters drawn per tile:

* blur: Gaussian, sigma uniform in ``BLUR_SIGMA_PX`` pixels (lost detail);
* misregistration: a sub-pixel to 2 px shift (``SHIFT_PX``) in a uniform direction, bilinear;
* spectral bias: a gain per band uniform in ``BAND_GAIN``;
* noise: Gaussian, std ``NOISE_STD`` reflectance; the result is clipped at 0.

The draws come from ``numpy.random.SeedSequence([seed, crc32(tile name)])``: a tile gets the same
proxy in every epoch, in validation and in any DataLoader worker, whatever the order of reading.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy import ndimage

#: Range of the Gaussian blur sigma, pixels.
BLUR_SIGMA_PX = (1.0, 2.0)
#: Range of the misregistration shift length, pixels.
SHIFT_PX = (0.5, 2.0)
#: Range of the per-band multiplicative bias.
BAND_GAIN = (0.9, 1.1)
#: Standard deviation of the additive noise, reflectance.
NOISE_STD = 0.01


def tile_rng(seed: int, name: str) -> np.random.Generator:
    """Random generator of tile ``name``: the same for the same ``(seed, name)`` in any process."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def degrade(
    reflectance: np.ndarray,
    rng: np.random.Generator,
    valid: np.ndarray | None = None,
    band_gain: tuple[float, float] = BAND_GAIN,
) -> np.ndarray:
    """Blur, shift, bias and add noise to ``reflectance`` (the proxy's recipe, see the module).

    Args:
        reflectance: float (C, H, W) reflectance.
        rng: Source of the per-tile draws (:func:`tile_rng`).
        valid: bool (H, W); invalid pixels are filled with each band's valid mean before filtering,
            so that nodata does not bleed into valid pixels. Default: all valid.
        band_gain: Range of the per-band gain; ``(1.0, 1.0)`` leaves radiometry alone (the other
            draws stay the same).

    Returns:
        float32 (C, H, W) degraded reflectance, >= 0.
    """
    sigma = rng.uniform(*BLUR_SIGMA_PX)
    direction = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(*SHIFT_PX) * np.array([np.sin(direction), np.cos(direction)])
    gain = rng.uniform(*band_gain, (len(reflectance), 1, 1))
    noise = rng.normal(0, NOISE_STD, reflectance.shape)

    image = reflectance.astype(np.float64)
    if valid is not None and not valid.all():
        means = image[:, valid].mean(axis=1) if valid.any() else np.zeros(len(image))
        image = np.where(valid, image, means[:, None, None])
    blurred = ndimage.gaussian_filter(image, sigma=(0, sigma, sigma))
    shifted = np.stack([ndimage.shift(band, shift, order=1, mode="nearest") for band in blurred])
    return np.clip(shifted * gain + noise, 0, None).astype(np.float32)


def stage2_proxy(
    reflectance: np.ndarray,
    name: str,
    seed: int = 0,
    valid: np.ndarray | None = None,
    band_gain: tuple[float, float] = BAND_GAIN,
) -> np.ndarray:
    """Proxy Stage 2 estimate of tile ``name``: :func:`degrade` with the tile's own generator."""
    return degrade(reflectance, tile_rng(seed, name), valid, band_gain)
