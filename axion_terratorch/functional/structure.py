"""SAR agreement: structure tensors of the optical luminance and the SAR, the agreement of their
orientations (the project's metric and the SAR loss terms), the original Stage 3 guide's edge-cosine
formula, and how much an output looks like its SAR rather than its target. Per-sample functions return
``(B,)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import sobel, spatial_gradient
from torch import Tensor

from axion_terratorch.constants import DEFAULT_BANDS, rgb_indices
from axion_terratorch.functional.tensors import TINY, as_weight, check_sar, smooth

#: Gaussian sigma (px) smoothing the SAR intensity before its structure tensor.
AGREEMENT_SAR_SIGMA = 1.5
#: Integration scale (px) of the structure tensors.
AGREEMENT_RHO = 2.0


def luminance(optical: Tensor, bands: Sequence[str] = DEFAULT_BANDS) -> Tensor:
    """ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of B04, B03, B02, ``(B, 1, H, W)``.

    kornia's ``rgb_to_grayscale`` on the red, green and blue bands picked by name (the band lists put
    them in B02, B03, B04 = blue, green, red order, so they are reordered to R, G, B first).
    """
    return rgb_to_grayscale(optical[:, list(rgb_indices(bands))])


def structure_tensor(image: Tensor, rho: float) -> tuple[Tensor, Tensor, Tensor]:
    """``(Jxx - Jyy, 2 Jxy, Jxx + Jyy)`` of a (B, 1, H, W) image, Gaussian-integrated at ``rho``."""
    grad = spatial_gradient(image, mode="sobel")  # (B, 1, 2, H, W)
    gx, gy = grad[:, :, 0], grad[:, :, 1]
    tensor = smooth(torch.cat([gx * gx, gx * gy, gy * gy], dim=1), rho)
    jxx, jxy, jyy = tensor.unbind(dim=1)
    return jxx - jyy, 2 * jxy, jxx + jyy


def orientation_agreement(
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str] = DEFAULT_BANDS,
    mask: Tensor | None = None,
    sar_sigma: float = AGREEMENT_SAR_SIGMA,
    rho: float = AGREEMENT_RHO,
    weighting: Literal["joint", "sar"] = "joint",
) -> Tensor:
    """Coherence-weighted agreement of structure-tensor orientations, per sample ``(B,)``, in [-1, 1].

    For the optical luminance and the SAR intensity mean(VV, VH) (dB, smoothed with ``sar_sigma``)
    the structure tensors (integration scale ``rho``) give at each pixel an orientation ``theta``
    and a coherence ``c = sqrt((Jxx - Jyy)^2 + 4 Jxy^2) / (Jxx + Jyy)``. The agreement is
    ``sum(w cos 2(theta_sar - theta_opt)) / sum(w)`` over valid pixels, with ``w = c_sar c_opt``
    (``weighting="joint"``, the metric) or ``w = c_sar`` (``"sar"``: every optical pixel counts
    where the SAR has structure, so noise in the optical lowers it; the loss uses this).
    1: same local orientations; ~0: unrelated structure. Computed in float32 whatever the autocast
    context: squared gradients and ``TINY`` underflow in float16.

    With ``"joint"`` it is the project's SAR agreement (``axion_terratorch.functional.sar_agreement``):
    unlike the original guide's edge-cosine formula it ranks, on real BigEarthNet pairs, the true Sentinel-2
    above the same image blurred, shifted or pixel-shuffled (``docs/concepts.md``). ``1 -`` its
    ``"sar"`` form is the structure term of the SAR losses.
    """
    check_sar(optical, sar)
    with torch.autocast(optical.device.type, enabled=False):
        return _orientation_agreement(optical.float(), sar.float(), bands, mask, sar_sigma, rho, weighting)


def _orientation_agreement(
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str],
    mask: Tensor | None,
    sar_sigma: float,
    rho: float,
    weighting: Literal["joint", "sar"],
) -> Tensor:
    weight = as_weight(mask, optical)[:, 0]
    d_s, o_s, t_s = structure_tensor(smooth(sar.mean(dim=1, keepdim=True), sar_sigma), rho)
    d_o, o_o, t_o = structure_tensor(luminance(optical, bands), rho)
    r_s = torch.sqrt(d_s * d_s + o_s * o_s + TINY)
    r_o = torch.sqrt(d_o * d_o + o_o * o_o + TINY)
    cosine = (d_s * d_o + o_s * o_o) / (r_s * r_o)
    w = r_s / (t_s + TINY)
    if weighting == "joint":
        w = w * r_o / (t_o + TINY)
    w = w * weight
    return (w * cosine).sum(dim=(-2, -1)) / w.sum(dim=(-2, -1)).clamp_min(TINY)


#: The project's SAR agreement, per sample ``(B,)`` in [-1, 1]: the jointly coherence-weighted
#: orientation agreement, :func:`orientation_agreement` with its default
#: ``weighting="joint"`` (one formula, under the name the metrics and reports use).
sar_agreement = orientation_agreement


def edge_cosine_agreement(
    optical: Tensor, sar: Tensor, bands: Sequence[str] = DEFAULT_BANDS, mask: Tensor | None = None
) -> Tensor:
    """The original Stage 3 guide's formula, per sample, in [0, 1]: cosine similarity of max-normalised
    Sobel magnitudes of the luminance and of mean(VV, VH), over valid pixels. It rewards blur (speckle
    makes the SAR edge map nearly uniform); kept for comparison with the guide's targets."""
    check_sar(optical, sar)
    weight = as_weight(mask, optical).flatten(1)
    edges = []
    for image in (luminance(optical, bands), sar.mean(dim=1, keepdim=True)):
        magnitude = sobel(image).flatten(1) * weight
        edges.append(magnitude / magnitude.amax(dim=1, keepdim=True).clamp_min(TINY))
    return torch.nn.functional.cosine_similarity(edges[0], edges[1], dim=1, eps=TINY)


def _zscore(image: Tensor, weight: Tensor) -> Tensor:
    """Standardise each sample of a ``(B, 1, H, W)`` image over its valid pixels."""
    count = weight.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1)
    mean = (image * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    var = ((image - mean) ** 2 * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    return (image - mean) / var.sqrt().clamp_min(TINY)


def copy_of_sar_ratio(
    output: Tensor, sar: Tensor, target: Tensor, bands: Sequence[str], mask: Tensor | None = None
) -> Tensor:
    """Distance of the output to the SAR image over its distance to the target, per sample ``(B,)``.

    Images are compared as standardised (per sample, over valid pixels) luminance of the optical
    images and mean(VV, VH) in dB: the distance is the RMS difference, ``sqrt(2 (1 - r))`` for a
    Pearson correlation ``r``. Above 1 the output looks more like the target than like the SAR; an
    output that copies the SAR's structure instead of grounding in it falls below 1.
    """
    weight = as_weight(mask, output)
    out_z = _zscore(luminance(output, bands), weight)
    count = weight.sum(dim=(1, 2, 3)).clamp_min(1)

    def distance(other: Tensor) -> Tensor:
        return (((out_z - _zscore(other, weight)) ** 2 * weight).sum(dim=(1, 2, 3)) / count).sqrt()

    return distance(sar.mean(dim=1, keepdim=True)) / distance(luminance(target, bands)).clamp_min(TINY)
