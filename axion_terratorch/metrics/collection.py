"""``GroundingMetrics``: the metrics the task logs under ``val/`` and ``test/``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.metrics.image_quality import MaskedMAE, MaskedPSNR, MaskedSSIM, SpectralAngle
from axion_terratorch.metrics.lpips_change import LPIPSChange
from axion_terratorch.metrics.sar_agreement import EdgeCosineAgreement, SARAgreement, SARAgreementGain

TargetMetric = Literal["psnr", "ssim", "sam", "mae"]


class GroundingMetrics(nn.Module):
    """SAR agreement of output and input, its gain, LPIPS change, and quality against targets.

    ``update(output, optical, sar, target=None, mask=None)`` feeds:

    - ``sar_agreement`` (output), ``sar_agreement_input`` (the Stage 2 input) and
      ``sar_agreement_gain``;
    - ``lpips_change`` = LPIPS(input, output), when ``lpips``;
    - ``psnr``, ``ssim``, ``sam``, ``mae`` (those in ``target_metrics``) when a target is given.

    ``compute()`` returns the metrics that received data; ``reset()`` clears all. Subclass it to add
    metrics (override ``update`` and call ``super().update``).

    Args:
        bands: Optical bands (R, G, B must be among them).
        agreement: ``structure_tensor`` (the project's metric) or ``edge_cosine`` (the seed's).
        lpips: Compute ``lpips_change`` (needs the LPIPS backbone weights, see ``LPIPSLoss``).
        lpips_net: LPIPS backbone.
        lpips_pretrained_backbone: ``False`` only for tests (random backbone).
        target_metrics: Metrics against the target.
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        agreement: Literal["structure_tensor", "edge_cosine"] = "structure_tensor",
        lpips: bool = True,
        lpips_net: Literal["alex", "vgg", "squeeze"] = "alex",
        lpips_pretrained_backbone: bool = True,
        target_metrics: Sequence[TargetMetric] = ("psnr", "ssim", "sam"),
    ) -> None:
        super().__init__()
        self.bands = tuple(bands)
        match agreement:
            case "structure_tensor":
                agreement_cls = SARAgreement
            case "edge_cosine":
                agreement_cls = EdgeCosineAgreement
            case _:
                msg = f"agreement must be 'structure_tensor' or 'edge_cosine', got {agreement!r}"
                raise ValueError(msg)
        self.sar = nn.ModuleDict(
            {
                "sar_agreement": agreement_cls(bands),
                "sar_agreement_input": agreement_cls(bands),
                "sar_agreement_gain": SARAgreementGain(agreement_cls(bands)),
            }
        )
        self.change = nn.ModuleDict(
            {"lpips_change": LPIPSChange(bands, net=lpips_net, pretrained_backbone=lpips_pretrained_backbone)}
            if lpips
            else {}
        )
        builders = {
            "psnr": MaskedPSNR,
            "ssim": MaskedSSIM,
            "sam": SpectralAngle,
            "mae": lambda: MaskedMAE(num_bands=len(self.bands)),
        }
        unknown = sorted(set(target_metrics) - set(builders))
        if unknown:
            msg = f"unknown target_metrics {unknown}; choose from {sorted(builders)}"
            raise ValueError(msg)
        self.target = nn.ModuleDict({name: builders[name]() for name in target_metrics})

    def update(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> None:
        """Update every metric that applies to this batch."""
        output = output.detach()
        self.sar["sar_agreement"].update(output, sar, mask)
        self.sar["sar_agreement_input"].update(optical, sar, mask)
        self.sar["sar_agreement_gain"].update(output, optical, sar, mask)
        for metric in self.change.values():
            metric.update(output, optical, mask)
        if target is not None:
            for metric in self.target.values():
                metric.update(output, target, mask)

    def _metrics(self) -> dict[str, nn.Module]:
        return {**self.sar, **self.change, **self.target}

    def compute(self) -> dict[str, Tensor]:
        """Values of the metrics updated since the last reset."""
        return {name: m.compute() for name, m in self._metrics().items() if m.update_count > 0}

    def reset(self) -> None:
        """Reset every metric."""
        for metric in self._metrics().values():
            metric.reset()
