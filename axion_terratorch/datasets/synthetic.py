"""Synthetic, structured S1/S2 scenes for the Stage 3 demo and tests (no download needed)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy import ndimage
from torch import Tensor
from torch.utils.data import Dataset

from axion_terratorch.argument_bounds import check_at_least, check_fraction
from axion_terratorch.constants import (
    DEFAULT_BANDS,
    ERROR_MASK_KEY,
    OPTICAL_KEY,
    SAR_KEY,
    band_slots,
    rgb_indices,
)

logger = logging.getLogger(__name__)

# Land-cover classes of the layout: four field types, then water, road and building.
CROP, GRASS, RIPE, SOIL, WATER, ROAD, BUILDING = range(7)
#: Land-cover classes of the layout (the ``mask`` of ``task="segmentation"``), in class-id order.
CLASS_NAMES: tuple[str, ...] = ("crop", "grass", "ripe_crop", "bare_soil", "water", "road", "building")
#: Class probabilities of a field parcel, for (CROP, GRASS, RIPE, SOIL).
FIELD_PROBS = (0.35, 0.25, 0.2, 0.2)

#: Class mean L2A reflectance (DN / 10000), ``S2L2A_BANDS`` order (B01 ... B12). Hand-set,
#: plausible shapes (water dark with NIR ~0, vegetation red edge / NIR plateau, soil and
#: asphalt flat-ish rising to SWIR, bright roofs), not fitted to data.
SPECTRA = np.array(
    [
        [0.030, 0.035, 0.070, 0.040, 0.110, 0.280, 0.360, 0.400, 0.420, 0.400, 0.220, 0.110],  # crop
        [0.035, 0.040, 0.070, 0.050, 0.120, 0.240, 0.290, 0.310, 0.330, 0.320, 0.250, 0.140],  # grass
        [0.060, 0.070, 0.100, 0.130, 0.170, 0.210, 0.230, 0.250, 0.260, 0.260, 0.330, 0.240],  # ripe
        [0.080, 0.090, 0.120, 0.160, 0.190, 0.210, 0.230, 0.240, 0.250, 0.260, 0.330, 0.290],  # soil
        [0.060, 0.050, 0.045, 0.030, 0.025, 0.020, 0.018, 0.015, 0.012, 0.010, 0.005, 0.003],  # water
        [0.090, 0.090, 0.100, 0.110, 0.120, 0.130, 0.135, 0.140, 0.145, 0.150, 0.170, 0.160],  # road
        [0.200, 0.220, 0.250, 0.280, 0.300, 0.310, 0.320, 0.330, 0.340, 0.340, 0.380, 0.340],  # roof
    ]
)
#: Class mean backscatter in dB, (VV, VH), same class order as ``SPECTRA``. Hand-set, C-band-like.
BACKSCATTER_DB = np.array(
    [
        [-11.0, -17.0],  # crop
        [-13.0, -20.0],  # grass
        [-12.0, -19.0],  # ripe
        [-14.0, -23.0],  # soil
        [-22.0, -28.0],  # water
        [-17.0, -25.0],  # road
        [-2.0, -9.0],  # roof
    ]
)
#: Extra backscatter (dB, VV/VH) on the building wall facing the sensor (double bounce).
DOUBLE_BOUNCE_DB = np.array([6.0, 4.0])
#: Equivalent number of looks of the simulated speckle (gamma-distributed intensity).
LOOKS = 4.5
#: What a synthetic sample is for: Stage 3 grounding or land-cover segmentation.
SyntheticTask = Literal["grounding", "segmentation"]


def _layout(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw a scene: ``(region id (H, W) int, class of each region (R,) int)``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    area = (size / 64) ** 2
    # Field parcels: Voronoi cells in a rotated, stretched frame (elongated fields).
    n_parcels = max(3, round(rng.integers(6, 14) * area))
    angle, stretch = rng.uniform(0, np.pi), rng.uniform(1.5, 2.5)

    def to_frame(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x * np.cos(angle) + y * np.sin(angle), (y * np.cos(angle) - x * np.sin(angle)) * stretch

    u, v = to_frame(xx, yy)
    su, sv = to_frame(*rng.uniform(0, size, (2, n_parcels)))
    dist = (u[None] - su[:, None, None]) ** 2 + (v[None] - sv[:, None, None]) ** 2
    region = dist.argmin(axis=0)
    classes = list(rng.choice([CROP, GRASS, RIPE, SOIL], size=n_parcels, p=FIELD_PROBS))
    # Water: a thresholded smooth noise field covering 5-20% of the tile, in 70% of scenes.
    noise = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=size / 10)
    water = noise > np.quantile(noise, 1 - rng.uniform(0.05, 0.2))
    if rng.random() >= 0.7:
        water[:] = False
    region[water] = len(classes)
    classes.append(WATER)
    # Roads: one or two straight lines 1.5-3 px wide, not across water.
    road = np.zeros((size, size), dtype=bool)
    for _ in range(rng.integers(1, 3)):
        px, py, theta = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0, np.pi)
        road |= np.abs((xx - px) * np.sin(theta) - (yy - py) * np.cos(theta)) <= rng.uniform(0.75, 1.5)
    region[road & ~water] = len(classes)
    classes.append(ROAD)
    # Buildings: clusters (about 1.2 per 64x64 px) of small rectangles, each its own region.
    for _ in range(rng.poisson(1.2 * area)):
        cy, cx = rng.uniform(0.15, 0.85, 2) * size
        for _ in range(rng.integers(3, 9)):
            y0, x0 = rng.normal((cy, cx), size / 12)
            hy, hx = rng.uniform(1, 3.5, 2)
            block = (np.abs(yy - y0) < hy) & (np.abs(xx - x0) < hx) & ~water
            region[block] = len(classes)
            classes.append(BUILDING)
    return region, np.array(classes)


def _texture(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Smooth zero-mean, unit-std noise (H, W)."""
    field = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma=sigma)
    return (field - field.mean()) / max(field.std(), 1e-6)


def _render_optical(
    rng: np.random.Generator, region: np.ndarray, classes: np.ndarray, texture: np.ndarray
) -> np.ndarray:
    """Clean L2A reflectance (12, H, W) in [0, 1]: class spectra x per-region gain x texture."""
    gain = rng.uniform(0.85, 1.15, (len(classes), 1)) * np.exp(rng.normal(0, 0.03, (len(classes), 12)))
    optical = (SPECTRA[classes] * gain)[region].transpose(2, 0, 1) * (1 + 0.04 * texture)
    return np.clip(optical + rng.normal(0, 0.003, optical.shape), 0, 1)


def _render_sar(
    rng: np.random.Generator, region: np.ndarray, classes: np.ndarray, texture: np.ndarray
) -> np.ndarray:
    """Speckled VV/VH backscatter (2, H, W) in dB, following the same regions as the optical."""
    offset = rng.uniform(-2, 2, (len(classes), 1)) + rng.normal(0, 0.5, (len(classes), 2))
    sar_db = (BACKSCATTER_DB[classes] + offset)[region].transpose(2, 0, 1) + 0.8 * texture
    building = classes[region] == BUILDING
    facing_wall = building & ~np.roll(building, 1, axis=1)
    sar_db[:, facing_wall] += DOUBLE_BOUNCE_DB[:, None]
    intensity = 10 ** (sar_db / 10) * rng.gamma(LOOKS, 1 / LOOKS, sar_db.shape)
    return 10 * np.log10(np.maximum(intensity, 1e-6))


def _degrade(rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
    """Stage 2 estimate (C, H, W) from the clean reflectance: blur, shift, per-band bias, noise."""
    sigma = rng.uniform(1, 2)
    direction = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(0.5, 2) * np.array([np.sin(direction), np.cos(direction)])
    blurred = ndimage.gaussian_filter(target, sigma=(0, sigma, sigma))
    shifted = np.stack([ndimage.shift(band, shift, order=1, mode="nearest") for band in blurred])
    biased = shifted * rng.uniform(0.9, 1.1, (len(target), 1, 1))
    return np.clip(biased + rng.normal(0, 0.01, biased.shape), 0, 1)


def _nodata_mask(rng: np.random.Generator, size: int, fraction: float) -> np.ndarray:
    """Valid-pixel mask (H, W) bool, False on one rectangle of about ``fraction`` of the tile."""
    valid = np.ones((size, size), dtype=bool)
    if fraction > 0:
        area = fraction * size * size
        height = int(np.clip(round(np.sqrt(area * np.exp(rng.uniform(-np.log(2), np.log(2))))), 1, size))
        width = int(np.clip(round(area / height), 1, size))
        top, left = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
        valid[top : top + height, left : left + width] = False
    return valid


class SyntheticGroundingDataset(Dataset[dict[str, Tensor | dict[str, Tensor]]]):
    """Synthetic co-registered Sentinel-1 / Sentinel-2 scenes with a degraded Stage 2 estimate.

    Dataset features:

    * A land-cover layout per tile: elongated field parcels (Voronoi cells) of four crop types,
      roads, smooth water bodies and clusters of bright buildings.
    * Clean L2A reflectance from class spectra (``SPECTRA``) with per-parcel gain (+-15%) and
      per-band jitter (~3%), plus a little within-class texture.
    * Sentinel-1 VV/VH in dB following the same geometry: class means (``BACKSCATTER_DB``),
      per-parcel offsets (+-2 dB), double bounce on building walls, then gamma speckle
      (``LOOKS`` looks) applied to linear intensity.
    * A Stage 2 estimate: the clean optical blurred (sigma 1-2 px), shifted (0.5-2 px),
      biased per band (x0.9-1.1) and noisy (std 0.01 reflectance).

    Every random draw comes from ``numpy.random.SeedSequence([seed, index])``, so a sample is
    bit-identical on every call, in any order and in any DataLoader worker. All 12 bands are
    generated and then subset, so a band's values do not depend on which other bands are asked for;
    the nodata rectangle has its own stream, so ``nodata_fraction`` does not change the scene.

    Args:
        num_samples: Number of tiles.
        tile_size: Tile height and width in pixels.
        bands: Sentinel-2 L2A bands of the optical input and target, from ``S2L2A_BANDS``.
        seed: Non-negative seed; datasets with different seeds are independent.
        nodata_fraction: Fraction of each tile covered by one nodata rectangle, in ``[0, 1)``.
        task: ``grounding`` (Stage 3 samples) or ``segmentation``: ``{"image": {"S1GRD", "S2L2A"
            clean}, "mask": int64 (H, W) land-cover class in ``CLASS_NAMES`` order}``, for
            terratorch's ``SemanticSegmentationTask`` (examples, backbone tests).

    Raises:
        ValueError: If an argument is out of range; the message names it and its value.
        TypeError: If ``bands`` is a single string rather than a sequence of names.
    """

    def __init__(
        self,
        num_samples: int,
        tile_size: int = 64,
        bands: Sequence[str] = DEFAULT_BANDS,
        seed: int = 0,
        nodata_fraction: float = 0.0,
        task: SyntheticTask = "grounding",
    ) -> None:
        check_at_least(1, {"num_samples": num_samples})
        check_at_least(16, {"tile_size": tile_size}, suffix=" px")
        check_fraction({"nodata_fraction": nodata_fraction})
        check_at_least(0, {"seed": seed})
        if isinstance(bands, str):
            msg = f"bands must be a sequence of band names such as ['B08'], got the string {bands!r}"
            raise TypeError(msg)
        self.slots = band_slots(bands)
        self.num_samples = num_samples
        self.tile_size = tile_size
        self.bands = tuple(bands)
        self.seed = seed
        self.nodata_fraction = nodata_fraction
        self.task = task

    def __len__(self) -> int:
        """Number of tiles."""
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Tensor | dict[str, Tensor]]:
        """Generate tile ``index`` (C = ``len(bands)``, H = W = ``tile_size``).

        Returns:
            ``{"image": {"S1GRD": float32 (2, H, W) VV/VH in dB, "S2L2A": float32 (C, H, W)
            Stage 2 reflectance in [0, 1]}, "target": float32 (C, H, W) clean reflectance in
            [0, 1], "valid_mask": bool (1, H, W), "error_mask": float32 (1, H, W) zeros}``. Pixels
            where ``valid_mask`` is False are 0 in every array. ``error_mask`` is the key of the
            real-data samples (where structural Stage 2 errors changed the input); the synthetic
            estimate has none.

        Raises:
            IndexError: If ``index`` is outside ``[-len, len)``.
        """
        if not -self.num_samples <= index < self.num_samples:
            msg = f"index {index} out of range for {self.num_samples} samples"
            raise IndexError(msg)
        index %= self.num_samples
        layout_rng, optical_rng, sar_rng, stage2_rng, mask_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence([self.seed, index]).spawn(5)
        )
        size = self.tile_size
        region, classes = _layout(layout_rng, size)
        texture = _texture(layout_rng, size, sigma=1.5)

        target = _render_optical(optical_rng, region, classes, texture)
        sar = _render_sar(sar_rng, region, classes, texture)
        stage2 = _degrade(stage2_rng, target)

        valid = _nodata_mask(mask_rng, size, self.nodata_fraction)
        arrays = [
            np.where(valid, a, 0).astype(np.float32) for a in (sar, stage2[self.slots], target[self.slots])
        ]
        sar_t, stage2_t, target_t = (torch.from_numpy(a) for a in arrays)
        if self.task == "segmentation":
            land_cover = torch.from_numpy(classes[region].astype(np.int64))
            return {"image": {SAR_KEY: sar_t, OPTICAL_KEY: target_t}, "mask": land_cover}
        return {
            "image": {SAR_KEY: sar_t, OPTICAL_KEY: stage2_t},
            "target": target_t,
            "valid_mask": torch.from_numpy(valid)[None],
            ERROR_MASK_KEY: torch.zeros(1, size, size),
        }

    def plot(self, sample: dict[str, Tensor | dict[str, Tensor]], suptitle: str | None = None) -> Figure:
        """Show SAR VV, the Stage 2 input and the target (RGB from B04/B03/B02, else the first band).

        Args:
            sample: A sample from :meth:`__getitem__` (unbatched).
            suptitle: Optional figure title.

        Returns:
            A matplotlib Figure with three panels.
        """
        image = sample["image"]
        try:
            rgb = list(rgb_indices(self.bands))
        except ValueError:
            rgb = [0]

        def to_rgb(optical: Tensor) -> np.ndarray:
            pixels = np.clip(optical[rgb].permute(1, 2, 0).numpy() / 0.3, 0, 1)
            return pixels[..., 0] if len(rgb) == 1 else pixels

        panels = [
            ("S1 VV (dB)", image[SAR_KEY][0].numpy(), {"vmin": -25, "vmax": 0}),
            ("Stage 2 input", to_rgb(image[OPTICAL_KEY]), {"vmin": 0, "vmax": 1}),
            ("Target", to_rgb(sample["target"]), {"vmin": 0, "vmax": 1}),
        ]
        fig = Figure(figsize=(9, 3.2))
        for ax, (title, data, limits) in zip(fig.subplots(1, 3), panels, strict=True):
            ax.imshow(data, cmap="gray", **limits)
            ax.set_title(title)
            ax.set_axis_off()
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig
