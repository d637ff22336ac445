"""SAR imprint: how much the change a grounding made follows the Sentinel-1 image's own texture.

A restoration changes an optical image where the optical image was wrong (blur, misregistration,
noise): its change follows the true scene's detail, which real Sentinel-1 backscatter tracks only
weakly. A model that imprints SAR backscatter changes the image where the SAR has texture. The
imprint is the cosine similarity between the high-pass of the change ``output - input`` in each band
and the high-pass of the SAR intensity, averaged over bands weighted by each band's change energy::

    imprint = sum_b |<hp(d_b), hp(s)>| / sum_b ||hp(d_b)|| ||hp(s)||

over valid pixels, with ``hp(x) = x - G_3px * x`` and ``s = mean(VV, VH)`` in dB smoothed with
``G_1px`` against speckle. It is 0 for an unchanged image and near 1 for a change that is a scaled copy
of the SAR texture; the absolute value makes it blind to the sign of the copy (bright SAR made dark
or bright). The sums are returned separately so that scenes can be scored block by block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from axion_terratorch.functional import TINY, as_weight, check_pair, check_sar, smooth

#: Gaussian sigma (px) of the low-pass removed from change and SAR: texture finer than this is compared.
IMPRINT_HIGHPASS_SIGMA = 3.0
#: Gaussian sigma (px) smoothing the SAR intensity against speckle before its high-pass.
IMPRINT_SAR_SIGMA = 1.0


def highpass(x: Tensor, sigma: float = IMPRINT_HIGHPASS_SIGMA) -> Tensor:
    """``x`` minus its Gaussian low-pass of ``sigma`` px (reflect borders)."""
    return x - smooth(x, sigma)


def sar_imprint_sums(
    output: Tensor, optical: Tensor, sar: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Sufficient sums of :func:`sar_imprint` over valid pixels, per sample.

    Returns:
        ``(dot, change_sq, sar_sq)``: ``<hp(d_b), hp(s)>`` and ``||hp(d_b)||^2`` per band ``(B, C)``,
        and ``||hp(s)||^2`` ``(B,)``, in float64 (sums of blocks add up).
    """
    check_pair(output, optical, ("output", "input"))
    check_sar(output, sar)
    with torch.autocast(output.device.type, enabled=False):
        weight = as_weight(mask, output).double()
        change = highpass(output.float() - optical.float()).double() * weight
        texture = highpass(smooth(sar.float().mean(dim=1, keepdim=True), IMPRINT_SAR_SIGMA)).double() * weight
        dot = (change * texture).sum(dim=(-2, -1))
        return dot, (change * change).sum(dim=(-2, -1)), (texture * texture).sum(dim=(-3, -2, -1))


def imprint_from_sums(dot: Tensor, change_sq: Tensor, sar_sq: Tensor) -> Tensor:
    """The imprint from (summed) :func:`sar_imprint_sums`, per sample ``(B,)`` (0 where nothing changed)."""
    norms = change_sq.sqrt() * sar_sq.sqrt().unsqueeze(-1)
    return (dot.abs().sum(dim=-1) / norms.sum(dim=-1).clamp_min(TINY)).float()


def sar_imprint(output: Tensor, optical: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
    """How much the change ``output - optical`` copies the SAR's texture, per sample ``(B,)`` in [0, 1].

    Args:
        output: Grounded optical ``(B, C, H, W)`` reflectance.
        optical: The input it was made from, same shape.
        sar: ``(B, 2, H, W)`` VV, VH in dB.
        mask: Valid pixels ``(B, 1, H, W)``.

    Example:
        >>> sar = torch.randn(1, 2, 64, 64) - 12
        >>> optical = torch.rand(1, 4, 64, 64) * 0.3
        >>> sar_imprint(optical, optical, sar)  # unchanged: no imprint
        tensor([0.])
    """
    return imprint_from_sums(*sar_imprint_sums(output, optical, sar, mask))
