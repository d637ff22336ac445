"""Structural errors of a Stage 2 estimate, the kind the SAR can fix (the proxy's second part).

A Stage 2 optical estimate comes from generation (Stage 1 makes optical from SAR) or from partly
clouded imagery, so besides the photometric errors of :mod:`~axion_terratorch.datasets.degradation`
(blur, a global shift, band gains, noise) it gets the geometry and the content of places wrong.
:class:`Stage2Errors` puts three such errors into a true image, each seeded and each reporting where
it changed the image:

* ``misregistration``: a smooth displacement field, up to ``misregistration_px`` pixels, over soft
  regions covering part of the tile; its direction and length vary across the tile, so field and
  shore boundaries move by different amounts in different places;
* ``occlusion``: a cloud or haze layer from power-law (fractal) noise, thin at its soft edges and
  up to opaque inside, with its shadow (the same layer, displaced) darkening the ground;
* ``content``: soft-edged regions whose texture and land cover are replaced by those of another part
  of the same tile (mirrored and moved), as a generator invents.

Each kind draws from its own child of the generator it is given (``rng.spawn``), so turning one kind
on or off leaves the draws of the others as they were. :class:`StructuralErrors` is the base of any
error model of your own (implement :meth:`~StructuralErrors.draw`), and :class:`ErrorSequence` puts
several models into one image.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy import ndimage

#: One structural error kind of :class:`Stage2Errors`.
ErrorKind = Literal["misregistration", "occlusion", "content"]
#: The structural error kinds, in the order they are applied.
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)
#: Strength of each kind in :meth:`Stage2Errors.only`: ``{kind: (field, value)}``.
PRESETS: dict[ErrorKind, tuple[str, float]] = {
    "misregistration": ("misregistration_px", 3.0),
    "occlusion": ("occlusion", 1.0),
    "content": ("content", 1.0),
}

#: Largest ``misregistration_px`` accepted, pixels.
MAX_MISREGISTRATION_PX = 16.0
#: Correlation length (Gaussian sigma) of the displacement field, pixels.
DISPLACEMENT_SCALE_PX = 12.0
#: Correlation length of the regions that are misregistered or replaced, pixels.
REGION_SCALE_PX = 10.0
#: Width of the soft edge of a region, in standard deviations of its noise field.
REGION_EDGE = 0.6
#: A pixel whose reflectance a displacement changed by this much or more (in its most changed band)
#: counts fully in the misregistration mask: a displaced flat area is not changed, a moved edge is.
FULL_CHANGE = 0.02
#: Spectral exponent of the cloud layer's fractal noise (larger: smoother, larger clouds).
CLOUD_BETA = (3.2, 3.8)
#: Noise standard deviations from a cloud's edge to its opaque core (larger: thinner clouds).
CLOUD_RAMP = (0.4, 1.2)
#: Opacity of the densest part of the layer: low values are haze, 1 an opaque cloud.
CLOUD_OPACITY = (0.35, 1.0)
#: Reflectance of an opaque cloud, all bands (with a 3% jitter per band).
CLOUD_REFLECTANCE = (0.45, 0.8)
#: Fraction of the ground's reflectance a shadow under an opaque cloud takes away.
SHADOW_DARKENING = (0.35, 0.65)
#: Largest displacement of the shadow from its cloud, pixels.
SHADOW_OFFSET_PX = 24


class StructuralErrors(ABC):
    """Base of the error models ``tiles.stage2_errors`` takes: subclass it and implement :meth:`draw`.

    :meth:`apply` checks the arrays, fills invalid pixels, calls :meth:`draw` and checks what it
    returns, so a model of your own (``class_path: my_module.MyErrors`` in YAML) is resampled per
    training read, cropped, flipped and masked like :class:`Stage2Errors` (``docs/data.md``).
    """

    @abstractmethod
    def draw(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One draw of the errors.

        Args:
            image: float64 (C, H, W) true reflectance, every pixel valid.
            rng: Source of every random choice (seeded per tile and per training read).

        Returns:
            ``(image, mask)``: (C, H, W) reflectance with the errors, and (H, W) in [0, 1], how much
            each pixel was changed (0 where the image is the input's).
        """

    def apply(
        self, reflectance: np.ndarray, rng: np.random.Generator, valid: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Put one draw of the errors into ``reflectance``.

        Args:
            reflectance: float (C, H, W) true reflectance.
            rng: Source of the draw.
            valid: bool (H, W); invalid pixels are filled with each band's valid mean first, so that
                nodata is not moved into valid pixels, and are 0 in the mask. Default: all valid.

        Returns:
            ``(image, mask)``: float32 (C, H, W) reflectance with the errors, and float32 (H, W) in
            [0, 1], how much each pixel was changed.

        Raises:
            ValueError: If ``reflectance`` is not (C, H, W), ``valid`` is not (H, W), or :meth:`draw`
                returns arrays of other shapes, a mask outside [0, 1] or non-finite values; the
                message names the class.
        """
        if reflectance.ndim != 3:
            msg = f"reflectance must be (C, H, W), got shape {reflectance.shape}"
            raise ValueError(msg)
        if valid is not None and valid.shape != reflectance.shape[1:]:
            msg = f"valid must be (H, W) = {reflectance.shape[1:]}, got shape {valid.shape}"
            raise ValueError(msg)
        image = reflectance.astype(np.float64)
        if valid is not None and not valid.all():
            means = image[:, valid].mean(axis=1) if valid.any() else np.zeros(len(image))
            image = np.where(valid, image, means[:, None, None])
        errored, mask = (np.asarray(array) for array in self.draw(image, rng))
        name = f"{type(self).__name__}.draw"
        if errored.shape != image.shape or mask.shape != image.shape[1:]:
            msg = (
                f"{name} must return an image of shape {image.shape} and a mask of shape "
                f"{image.shape[1:]}, got {errored.shape} and {mask.shape}"
            )
            raise ValueError(msg)
        if not (np.isfinite(errored).all() and np.isfinite(mask).all()):
            msg = f"{name} returned non-finite values"
            raise ValueError(msg)
        if mask.min(initial=0.0) < 0 or mask.max(initial=0.0) > 1:
            msg = f"{name} must return a mask in [0, 1], got values in [{mask.min():g}, {mask.max():g}]"
            raise ValueError(msg)
        if valid is not None:
            mask = np.where(valid, mask, 0.0)
        return errored.astype(np.float32), mask.astype(np.float32)


@dataclass(frozen=True)
class Stage2Errors(StructuralErrors):
    """Structural errors put into a true image to stand in for a Stage 2 estimate (``tiles.stage2_errors``).

    Each kind is off at 0. Ranges of the per-draw values are ``(low, high)`` pairs drawn uniformly.

    Args:
        misregistration_px: Peak displacement of the misregistration field, pixels in
            ``[0, 16]``; each draw's peak is uniform in ``[misregistration_px / 2, misregistration_px]``.
            Applied to every draw when > 0.
        occlusion: Probability that a draw has a cloud or haze layer and its shadow, in ``[0, 1]``.
        content: Probability that a draw has regions of replaced content, in ``[0, 1]``.
        misregistration_coverage: Range of the fraction of the tile that is displaced.
        occlusion_coverage: Range of the fraction of the tile under the cloud layer (any density).
        content_coverage: Range of the fraction of the tile whose content is replaced.

    Raises:
        ValueError: If a value is out of range; the message names the field.

    Example:
        >>> errors = Stage2Errors.only("occlusion")
        >>> image, mask = errors.apply(np.full((4, 32, 32), 0.1), np.random.default_rng(0))
        >>> image.shape, mask.shape
        ((4, 32, 32), (32, 32))
    """

    misregistration_px: float = 0.0
    occlusion: float = 0.0
    content: float = 0.0
    misregistration_coverage: tuple[float, float] = (0.3, 0.8)
    occlusion_coverage: tuple[float, float] = (0.1, 0.5)
    content_coverage: tuple[float, float] = (0.05, 0.25)

    def __post_init__(self) -> None:
        limits = {"misregistration_px": MAX_MISREGISTRATION_PX, "occlusion": 1.0, "content": 1.0}
        for name, high in limits.items():
            value = getattr(self, name)
            if not 0 <= value <= high:
                msg = f"stage2_errors.{name} must be in [0, {high:g}] (0: off), got {value}"
                raise ValueError(msg)
        for name in ("misregistration_coverage", "occlusion_coverage", "content_coverage"):
            value = tuple(getattr(self, name))
            if len(value) != 2 or not 0 < value[0] <= value[1] <= 1:
                msg = f"stage2_errors.{name} must be (low, high) with 0 < low <= high <= 1, got {value}"
                raise ValueError(msg)
            object.__setattr__(self, name, (float(value[0]), float(value[1])))

    @classmethod
    def only(cls, *kinds: ErrorKind) -> Stage2Errors:
        """The errors of ``kinds`` at their :data:`PRESETS` strength, the others off.

        ``Stage2Errors.only("occlusion")`` is each kind alone, ``Stage2Errors.only(*ERROR_KINDS)`` all
        together (misregistration of up to 3 px, occlusion and content errors in every draw).

        Raises:
            ValueError: If a kind is not one of :data:`ERROR_KINDS`, or none is given.
        """
        unknown = [kind for kind in kinds if kind not in ERROR_KINDS]
        if unknown or not kinds:
            msg = f"error kinds must be among {list(ERROR_KINDS)}, got {list(kinds)}"
            raise ValueError(msg)
        return cls(**dict(PRESETS[kind] for kind in kinds))

    @property
    def kinds(self) -> tuple[ErrorKind, ...]:
        """The kinds that are on, in :data:`ERROR_KINDS` order (empty: the errors change nothing)."""
        return tuple(kind for kind in ERROR_KINDS if getattr(self, PRESETS[kind][0]) > 0)

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Misregistration, content, then occlusion on top, each from its own child of ``rng``
        (``rng.spawn``, whether on or off).

        Returns:
            ``(image, mask)``: the mask is the largest over the kinds: the change a displacement made
            (full from ``FULL_CHANGE`` reflectance on), the cloud's opacity or the shadow's density,
            the replaced fraction. Where it is 0 the image equals the input.
        """
        mask = np.zeros(image.shape[1:])
        streams = dict(zip(ERROR_KINDS, rng.spawn(len(ERROR_KINDS)), strict=True))
        for kind in ERROR_KINDS:
            if kind in self.kinds:
                image, changed = getattr(self, f"_{kind}")(image, streams[kind])
                mask = np.maximum(mask, changed)
        return image, mask

    def _misregistration(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Warp ``image`` by a smooth field over soft regions; mask: the change it made / ``FULL_CHANGE``, clipped."""
        shape = image.shape[1:]
        peak = rng.uniform(0.5, 1.0) * self.misregistration_px
        region = soft_regions(
            smooth_noise(rng, shape, REGION_SCALE_PX), rng.uniform(*self.misregistration_coverage)
        )
        field = np.stack([smooth_noise(rng, shape, DISPLACEMENT_SCALE_PX) for _ in range(2)]) * region
        largest = np.hypot(*field).max()
        field *= peak / largest if largest > 0 else 0.0
        grid = np.mgrid[: shape[0], : shape[1]].astype(np.float64) + field
        warped = np.stack([ndimage.map_coordinates(band, grid, order=1, mode="nearest") for band in image])
        return warped, np.clip(np.abs(warped - image).max(axis=0) / FULL_CHANGE, 0, 1)

    def _occlusion(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Darken by the shadow, then blend the cloud layer on top; mask: max(opacity, shadow)."""
        if rng.random() >= self.occlusion:
            return image, np.zeros(image.shape[1:])
        height, width = image.shape[1:]
        pad = SHADOW_OFFSET_PX
        canvas = fractal_noise(rng, (height + 2 * pad, width + 2 * pad), rng.uniform(*CLOUD_BETA))
        threshold = np.quantile(
            canvas[pad : pad + height, pad : pad + width], 1 - rng.uniform(*self.occlusion_coverage)
        )
        density = smoothstep((canvas - threshold) / rng.uniform(*CLOUD_RAMP)) * rng.uniform(*CLOUD_OPACITY)
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0) * pad
        dy, dx = round(distance * math.sin(angle)), round(distance * math.cos(angle))
        cloud = density[pad : pad + height, pad : pad + width]
        shadow = density[pad + dy : pad + dy + height, pad + dx : pad + dx + width]
        brightness = rng.uniform(*CLOUD_REFLECTANCE) * (1 + rng.normal(0, 0.03, (len(image), 1, 1)))
        shaded = image * (1 - rng.uniform(*SHADOW_DARKENING) * shadow)
        clouded = (1 - cloud) * shaded + cloud * brightness * (0.85 + 0.15 * cloud)
        return clouded, np.maximum(cloud, shadow)

    def _content(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Blend in, over soft regions, the tile mirrored and moved; mask: the blend weight."""
        if rng.random() >= self.content:
            return image, np.zeros(image.shape[1:])
        height, width = image.shape[1:]
        weight = soft_regions(
            smooth_noise(rng, (height, width), REGION_SCALE_PX), rng.uniform(*self.content_coverage)
        )
        flip = [(1,), (2,), (1, 2)][rng.integers(3)]
        offset = (
            int(rng.integers(height // 4, 3 * height // 4 + 1)),
            int(rng.integers(width // 4, 3 * width // 4 + 1)),
        )
        source = np.roll(np.flip(image, flip), offset, axis=(1, 2))
        return (1 - weight) * image + weight * source, weight


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S-curve (``3x^2 - 2x^3``) between."""
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_px: float) -> np.ndarray:
    """Gaussian-filtered white noise of correlation length ``sigma_px``, standardised (mean 0, std 1)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="reflect")
    return (field - field.mean()) / max(field.std(), 1e-12)


def soft_regions(noise: np.ndarray, coverage: float, edge: float = REGION_EDGE) -> np.ndarray:
    """Weight in [0, 1]: above 0.5 on the ``coverage`` fraction where ``noise`` is highest, with an
    S-shaped edge ``edge`` noise units wide, and exactly 0 outside it."""
    threshold = np.quantile(noise, 1 - coverage)
    return smoothstep((noise - threshold) / edge + 0.5)


def fractal_noise(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    """Standardised power-law noise (power spectrum ``1 / f**beta``): cloud-like for ``beta`` 3 to 4.

    Phases and amplitudes are Gaussian draws from ``rng``; the field is periodic over ``shape``.
    """
    frequency = np.hypot(np.fft.fftfreq(shape[0])[:, None], np.fft.rfftfreq(shape[1])[None])
    frequency[0, 0] = 1.0
    amplitude = frequency ** (-beta / 2)
    amplitude[0, 0] = 0.0
    spectrum = (rng.standard_normal(amplitude.shape) + 1j * rng.standard_normal(amplitude.shape)) * amplitude
    field = np.fft.irfft2(spectrum, s=shape)
    return (field - field.mean()) / max(field.std(), 1e-12)


class ErrorSequence(StructuralErrors):
    """Several error models put into one image, one after the other (``tiles.stage2_errors``).

    Each model draws from its own child of the generator (``rng.spawn``), so a model added at the
    end leaves the draws of the others as they were; the mask is the largest of the models' masks.

    Args:
        errors: The models, in the order they are applied (e.g. :class:`Stage2Errors`, then one of
            your own).

    Raises:
        ValueError: If ``errors`` is empty.

    Example:
        >>> errors = ErrorSequence([Stage2Errors.only("content"), Stage2Errors.only("occlusion")])
        >>> image, mask = errors.apply(np.full((4, 32, 32), 0.1), np.random.default_rng(0))
        >>> mask.shape
        (32, 32)
    """

    def __init__(self, errors: Sequence[StructuralErrors]) -> None:
        if not errors:
            msg = "ErrorSequence needs at least one error model"
            raise ValueError(msg)
        self.errors = tuple(errors)

    def draw(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Each model's :meth:`~StructuralErrors.apply` in turn (so each one's output is checked)."""
        mask = np.zeros(image.shape[1:])
        for errors, stream in zip(self.errors, rng.spawn(len(self.errors)), strict=True):
            image, changed = errors.apply(image, stream)
            mask = np.maximum(mask, changed)
        return image, mask

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.errors)!r})"
