"""Training-free SAR-guided registration: move the optical estimate to where the SAR puts its structure."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from kornia.filters import spatial_gradient
from torch import Tensor

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import TINY, luminance, smooth
from axion_terratorch.models.baselines import TrainingFreeBaseline


def gradient_magnitude(image: Tensor, sigma: float) -> Tensor:
    """Sobel gradient magnitude of a ``(B, 1, H, W)`` image smoothed with ``sigma`` px first."""
    grad = spatial_gradient(smooth(image, sigma), mode="sobel")[:, 0]
    return grad.pow(2).sum(dim=1, keepdim=True).sqrt()


def shift_correlation(moving: Tensor, reference: Tensor, block: int, stride: int, radius: int) -> Tensor:
    """Normalised cross-correlation of windows of ``moving`` with ``reference`` shifted by every integer
    ``s`` in ``[-radius, radius]^2``, for the hypothesis ``moving(x) ~ reference(x - s)``.

    Windows of ``block`` px every ``stride`` px cover ``moving``; ``reference`` is read beyond its
    border by replication. Channels are summed into one correlation.

    Args:
        moving: ``(B, C, H, W)`` feature.
        reference: ``(B, C, H, W)`` feature.
        block: Window side, pixels.
        stride: Window step, pixels.
        radius: Largest shift searched, pixels.

    Returns:
        ``(B, 2 radius + 1, 2 radius + 1, rows, cols)``, index ``[:, radius + sy, radius + sx]``.
    """
    height, width = moving.shape[-2:]
    padded = F.pad(reference, (radius,) * 4, mode="replicate")

    def pooled(x: Tensor) -> Tensor:
        return F.avg_pool2d(x, block, stride).sum(dim=1)

    def moments(x: Tensor) -> Tensor:
        return F.avg_pool2d(x, block, stride)

    mean_a = moments(moving)
    var_a = (moments(moving * moving) - mean_a * mean_a).sum(dim=1)
    rows = []
    for sy in range(-radius, radius + 1):
        row = []
        for sx in range(-radius, radius + 1):
            b = padded[..., radius - sy : radius - sy + height, radius - sx : radius - sx + width]
            mean_b = moments(b)
            var_b = (moments(b * b) - mean_b * mean_b).sum(dim=1)
            cov = pooled(moving * b) - (mean_a * mean_b).sum(dim=1)
            row.append(cov / (var_a.clamp_min(0) * var_b.clamp_min(0)).sqrt().clamp_min(TINY))
        rows.append(torch.stack(row, dim=1))
    return torch.stack(rows, dim=1)


def best_shifts(volume: Tensor) -> tuple[Tensor, Tensor]:
    """Sub-pixel best shift ``(B, 2, rows, cols)`` (sy, sx) of a :func:`shift_correlation` volume and
    its confidence ``(B, 1, rows, cols)``: the peak's excess over the best correlation outside its
    3 x 3 neighbourhood, 0 where the peak lies on the search window's border (no peak found)."""
    batch, size, _, rows, cols = volume.shape
    radius = size // 2
    flat = volume.flatten(1, 2)  # (B, S*S, rows, cols)
    peak, index = flat.max(dim=1, keepdim=True)
    iy, ix = index // size, index % size
    grid = torch.arange(size, device=volume.device)
    gy = grid.view(1, size, 1, 1, 1).expand(batch, size, size, rows, cols).flatten(1, 2)
    gx = grid.view(1, 1, size, 1, 1).expand(batch, size, size, rows, cols).flatten(1, 2)
    near = ((gy - iy).abs() <= 1) & ((gx - ix).abs() <= 1)
    second = flat.masked_fill(near, -torch.inf).amax(dim=1, keepdim=True)
    inside = (iy > 0) & (iy < size - 1) & (ix > 0) & (ix < size - 1)
    confidence = torch.where(inside, peak - second, torch.zeros_like(peak)).clamp_min(0)

    def refine(centre: Tensor, step: int) -> Tensor:
        """Parabola through the peak and its two neighbours along one axis (``step`` in flat index)."""
        at = centre.clamp(1, size - 2)
        index_at = index + (at - centre) * step
        minus = flat.gather(1, index_at - step)
        plus = flat.gather(1, index_at + step)
        mid = flat.gather(1, index_at)
        curvature = (minus - 2 * mid + plus).clamp_max(-TINY)
        return at + (0.5 * (minus - plus) / curvature).clamp(-0.5, 0.5)

    shift = torch.cat([refine(iy, size), refine(ix, 1)], dim=1).float() - radius
    return shift, confidence


class SARRegistration(TrainingFreeBaseline):
    """Warp the optical estimate so that its structure lands where the SAR's is (a training-free baseline).

    The gradient magnitudes of the optical luminance and of the despeckled SAR intensity mean(VV, VH)
    (dB) are correlated in windows of ``block`` px every ``stride`` px over integer shifts up to
    ``radius`` px (:func:`shift_correlation`); each window's best shift, refined to sub-pixel, counts
    with its peak-to-second-peak contrast (:func:`best_shifts`). The displacement field is the
    confidence-weighted, Gaussian-smoothed average of those shifts, shrunk towards zero where the
    confidence is below ``prior``; the optical estimate is resampled along it (bilinear). Where the
    SAR shows no structure the field is zero and the input passes unchanged. A
    :class:`~axion_terratorch.models.baselines.TrainingFreeBaseline` (its input and output, with
    ``H, W >= block``).

    Args:
        bands: Optical bands (B02, B03, B04 for the luminance).
        block: Window side, pixels.
        stride: Window step, pixels.
        radius: Largest shift searched, pixels.
        sar_sigma: Gaussian despeckling of the SAR intensity, pixels.
        optical_sigma: Gaussian smoothing of the luminance before its gradient, pixels.
        smoothing: Gaussian sigma of the field, pixels (``None``: ``stride``).
        prior: Confidence the zero shift gets everywhere (larger: moves less).
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        block: int = 64,
        stride: int = 16,
        radius: int = 4,
        sar_sigma: float = 2.0,
        optical_sigma: float = 1.0,
        smoothing: float | None = None,
        prior: float = 0.02,
    ) -> None:
        super().__init__(bands)
        check_at_least(8, {"block": block}, " px")
        check_at_least(1, {"stride": stride, "radius": radius}, " px")
        check_at_least(0, {"sar_sigma": sar_sigma, "optical_sigma": optical_sigma, "prior": prior})
        check_at_least(0, {"smoothing": smoothing})
        self.block = block
        self.stride = stride
        self.radius = radius
        self.sar_sigma = sar_sigma
        self.optical_sigma = optical_sigma
        self.smoothing = float(stride) if smoothing is None else smoothing
        self.prior = prior

    def displacement(self, image: dict[str, Tensor]) -> Tensor:
        """The estimated shift of the optical against the SAR, ``(B, 2, H, W)`` (dy, dx) pixels:
        ``optical(x) ~ aligned(x - shift(x))``."""
        sar, optical = self.unpack(image)
        height, width = optical.shape[-2:]
        if min(height, width) < self.block:
            msg = f"block must be <= the image size, got block={self.block} for {height} x {width} px"
            raise ValueError(msg)
        moving = gradient_magnitude(luminance(optical.float(), self.bands), self.optical_sigma)
        reference = gradient_magnitude(sar.float().mean(dim=1, keepdim=True), self.sar_sigma)
        volume = shift_correlation(moving, reference, self.block, self.stride, self.radius)
        shift, confidence = best_shifts(volume)
        rows, cols = shift.shape[-2:]
        # Each pixel reads the window grid at its own position (window centres, bilinear, border kept).
        centre = (self.block - 1) / 2
        y = (torch.arange(height, device=shift.device) - centre) / self.stride
        x = (torch.arange(width, device=shift.device) - centre) / self.stride
        grid = torch.stack(
            torch.meshgrid(2 * x / max(cols - 1, 1) - 1, 2 * y / max(rows - 1, 1) - 1, indexing="xy"), dim=-1
        ).expand(len(shift), height, width, 2)
        weighted = torch.cat([shift * confidence, confidence], dim=1)
        dense = F.grid_sample(weighted, grid, mode="bilinear", padding_mode="border", align_corners=True)
        dense = smooth(dense, self.smoothing)
        return dense[:, :2] / (dense[:, 2:] + self.prior).clamp_min(TINY)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """Return the optical estimate moved along :meth:`displacement`, ``(B, C, H, W)`` reflectance."""
        _, optical = self.unpack(image)
        field = self.displacement(image)
        height, width = optical.shape[-2:]
        y, x = torch.meshgrid(
            torch.arange(height, device=optical.device, dtype=field.dtype),
            torch.arange(width, device=optical.device, dtype=field.dtype),
            indexing="ij",
        )
        # aligned(y) = optical(y + shift(y)).
        sample_y = 2 * (y + field[:, 0]) / max(height - 1, 1) - 1
        sample_x = 2 * (x + field[:, 1]) / max(width - 1, 1) - 1
        grid = torch.stack([sample_x, sample_y], dim=-1)
        warped = F.grid_sample(
            optical.float(), grid, mode="bilinear", padding_mode="border", align_corners=True
        )
        return warped.to(optical.dtype)

    def extra_repr(self) -> str:
        return (
            f"block={self.block}, stride={self.stride}, radius={self.radius}, sar_sigma={self.sar_sigma}, "
            f"smoothing={self.smoothing}, prior={self.prior}"
        )
