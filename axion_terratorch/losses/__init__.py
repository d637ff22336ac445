"""Stage 3 losses: each term a module called as one :data:`LossTerm` is, a composite of named terms
(:class:`LossComposite`), and its preset with the original Stage 3 guide's
weights (:class:`Stage3Loss`)."""

from axion_terratorch.losses.composite import LossComposite, LossTerm, TermModule, WeightedTerm
from axion_terratorch.losses.lpips import LPIPSLoss
from axion_terratorch.losses.preservation import CycleLoss, IdentityLoss
from axion_terratorch.losses.sar_consistency import SARConsistencyLoss
from axion_terratorch.losses.sar_hinge import SARAgreementCeiling, SARAgreementExcess, SARAgreementHinge
from axion_terratorch.losses.spectral import SpectralLoss
from axion_terratorch.losses.ssim import SSIMLoss
from axion_terratorch.losses.stage3 import Stage3Loss

__all__ = [
    "CycleLoss",
    "IdentityLoss",
    "LPIPSLoss",
    "LossComposite",
    "LossTerm",
    "SARAgreementCeiling",
    "SARAgreementExcess",
    "SARAgreementHinge",
    "SARConsistencyLoss",
    "SSIMLoss",
    "SpectralLoss",
    "Stage3Loss",
    "TermModule",
    "WeightedTerm",
]
