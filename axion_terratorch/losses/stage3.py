"""The Stage 3 objective: SAR consistency + cycle + identity + LPIPS + spectral."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.losses.functional import SAR_SIGMA
from axion_terratorch.losses.lpips import LPIPSLoss
from axion_terratorch.losses.preservation import CycleLoss, IdentityLoss
from axion_terratorch.losses.sar_consistency import SARConsistencyLoss
from axion_terratorch.losses.spectral import SpectralLoss


class Stage3Loss(nn.Module):
    """``total = a SAR + b cycle + g identity + d LPIPS + e spectral`` (seed: 1.0/0.5/0.3/0.1/1.0).

    The SAR term is :class:`SARConsistencyLoss` with sub-weights ``structure_weight``,
    ``edge_weight``, ``texture_weight`` (default 1 / 0 / 0; the seed's edge/texture terms favour
    speckle and blur on real pairs, see that class).

    ``optical`` (the Stage 2 input) is the reference of the cycle, identity and LPIPS terms;
    ``target`` (real Sentinel-2) that of the spectral term, which is 0 when no target is given.
    LPIPS is built only when ``use_lpips`` and ``lpips_weight > 0`` (its term is 0 otherwise).

    Returns a dict: ``loss`` (the weighted total, also under ``total``), the raw terms
    ``sar_consistency``, ``cycle``, ``identity``, ``lpips``, ``spectral``, and ``cycle_identity``
    (the weighted preservation part, ``b cycle + g identity``).

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance; sar: ``(B, 2, H, W)`` dB;
          mask: ``(B, 1, H, W)`` or ``(B, H, W)``, True = valid.
    """

    def __init__(
        self,
        sar_consistency_weight: float = 1.0,
        cycle_weight: float = 0.5,
        identity_weight: float = 0.3,
        lpips_weight: float = 0.1,
        spectral_weight: float = 1.0,
        structure_weight: float = 1.0,
        edge_weight: float = 0.0,
        texture_weight: float = 0.0,
        sar_sigma: float = SAR_SIGMA,
        use_lpips: bool = True,
        lpips_net: Literal["alex", "vgg", "squeeze"] = "alex",
        lpips_pretrained_backbone: bool = True,
        bands: Sequence[str] = DEFAULT_BANDS,
    ) -> None:
        super().__init__()
        self.weights = {
            "sar_consistency": sar_consistency_weight,
            "cycle": cycle_weight,
            "identity": identity_weight,
            "lpips": lpips_weight,
            "spectral": spectral_weight,
        }
        for name, value in self.weights.items():
            if value < 0:
                msg = f"{name}_weight must be >= 0, got {value}"
                raise ValueError(msg)
        self.bands = tuple(bands)
        self.sar_consistency = SARConsistencyLoss(
            structure_weight, edge_weight, texture_weight, sar_sigma, bands
        )
        self.cycle = CycleLoss()
        self.identity = IdentityLoss()
        self.spectral = SpectralLoss()
        self.lpips = (
            LPIPSLoss(bands, net=lpips_net, pretrained_backbone=lpips_pretrained_backbone)
            if use_lpips and lpips_weight > 0
            else None
        )

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Named terms and their weighted total under ``"loss"``."""
        zero = output.new_zeros(())
        terms = {
            "sar_consistency": self.sar_consistency(output, sar, mask),
            "cycle": self.cycle(output, optical, mask),
            "identity": self.identity(output, optical, sar, mask),
            "lpips": zero if self.lpips is None else self.lpips(output, optical, mask),
            "spectral": zero if target is None else self.spectral(output, target, mask),
        }
        total = sum(self.weights[name] * value for name, value in terms.items())
        terms["cycle_identity"] = (
            self.weights["cycle"] * terms["cycle"] + self.weights["identity"] * terms["identity"]
        )
        return {"loss": total, "total": total, **terms}

    def extra_repr(self) -> str:
        weights = ", ".join(f"{name}_weight={value}" for name, value in self.weights.items())
        return f"{weights}, bands={self.bands}"
