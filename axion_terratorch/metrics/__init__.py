"""Metrics: SAR agreement (the project's and the original Stage 3 guide's), its gain, LPIPS change,
masked image quality, over-grounding against the target."""

from axion_terratorch.metrics.collection import GroundingMetrics
from axion_terratorch.metrics.image_quality import MaskedMAE, MaskedPSNR, MaskedSSIM, PSNRGain, SpectralAngle
from axion_terratorch.metrics.lpips_change import LPIPSChange
from axion_terratorch.metrics.sar_agreement import EdgeCosineAgreement, SARAgreement, SARAgreementGain

__all__ = [
    "EdgeCosineAgreement",
    "GroundingMetrics",
    "LPIPSChange",
    "MaskedMAE",
    "MaskedPSNR",
    "MaskedSSIM",
    "PSNRGain",
    "SARAgreement",
    "SARAgreementGain",
    "SpectralAngle",
]
