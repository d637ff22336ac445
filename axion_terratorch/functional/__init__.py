"""The math the losses and metrics share, one layer below both (neither imports the other).

Optical tensors are ``(B, C, H, W)`` reflectance with named ``bands``; SAR is ``(B, 2, H, W)`` VV/VH
in dB; masks are ``(B, 1, H, W)`` or ``(B, H, W)``, bool or float, 1 = valid. Per-sample functions
return ``(B,)``.

- :mod:`.tensors`: shape checks, masks as weights, masked means, smoothing;
- :mod:`.structure`: structure tensors, the SAR agreement (:func:`sar_agreement`), the original
  Stage 3 guide's edge-cosine formula, :func:`copy_of_sar_ratio`;
- :mod:`.image_quality`: masked PSNR, SSIM per sample, spectral angle and error sums;
- :mod:`.losses`: the loss terms' own math (the original Stage 3 guide's SAR edge and texture terms,
  cycle, identity, spectral L1).
- :mod:`.sar_regression`: a scene's own SAR-to-optical fit, weighted or robust (what
  :class:`~axion_terratorch.models.SARFill` puts where the SAR contradicts the input).

The LPIPS network both use is :mod:`axion_terratorch.lpips`.
"""

from axion_terratorch.functional.image_quality import (
    absolute_error_sum,
    psnr_from_mse,
    spectral_angle_sum,
    squared_error_sum,
    ssim_per_sample,
)
from axion_terratorch.functional.losses import (
    SAR_SIGMA,
    backscatter_weight,
    cycle_loss,
    identity_loss,
    local_variance,
    sar_confidence,
    sar_edge_loss,
    sar_texture_loss,
    spectral_l1_loss,
)
from axion_terratorch.functional.structure import (
    AGREEMENT_RHO,
    AGREEMENT_SAR_SIGMA,
    copy_of_sar_ratio,
    edge_cosine_agreement,
    luminance,
    orientation_agreement,
    sar_agreement,
    structure_tensor,
)
from axion_terratorch.functional.tensors import (
    EPS,
    TINY,
    as_weight,
    check_pair,
    check_sar,
    masked_mean,
    smooth,
)

__all__ = [
    "AGREEMENT_RHO",
    "AGREEMENT_SAR_SIGMA",
    "EPS",
    "SAR_SIGMA",
    "TINY",
    "absolute_error_sum",
    "as_weight",
    "backscatter_weight",
    "check_pair",
    "check_sar",
    "copy_of_sar_ratio",
    "cycle_loss",
    "edge_cosine_agreement",
    "identity_loss",
    "local_variance",
    "luminance",
    "masked_mean",
    "orientation_agreement",
    "psnr_from_mse",
    "sar_agreement",
    "sar_confidence",
    "sar_edge_loss",
    "sar_texture_loss",
    "smooth",
    "spectral_angle_sum",
    "spectral_l1_loss",
    "squared_error_sum",
    "ssim_per_sample",
    "structure_tensor",
]
