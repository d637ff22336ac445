"""``GroundingMetrics``: the metrics the task logs under ``val/`` and ``test/``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn
from torchmetrics.aggregation import MeanMetric

from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.init_config import RecordsInitArgs
from axion_terratorch.metrics.functional import copy_of_sar_ratio, ssim_per_sample
from axion_terratorch.metrics.image_quality import MaskedMAE, MaskedPSNR, MaskedSSIM, PSNRGain, SpectralAngle
from axion_terratorch.metrics.lpips_change import LPIPSChange
from axion_terratorch.metrics.sar_agreement import EdgeCosineAgreement, SARAgreement

TargetMetric = Literal["psnr", "ssim", "sam", "mae"]


class GroundingMetrics(RecordsInitArgs, nn.Module):
    """SAR agreement of output and input, its gain, LPIPS change, quality and over-grounding against targets.

    ``update(output, optical, sar, target=None, mask=None)`` feeds (all means over tiles unless said):

    - ``sar_agreement`` (output), ``sar_agreement_input`` (the Stage 2 input) and
      ``sar_agreement_gain`` (per tile output minus input);
    - ``lpips_change`` = LPIPS(input, output), when ``lpips``;
    - when a target is given: ``psnr``, ``ssim``, ``sam``, ``mae`` (those in ``target_metrics``) and
      the over-grounding metrics ``sar_agreement_target`` (the target's agreement),
      ``sar_agreement_excess`` (per tile ``max(0, agreement(output) - agreement(target))``: clipped
      so that tiles below the true image's agreement, which are not over-grounded, do not offset
      tiles above it), ``copy_of_sar_ratio``
      (:func:`~axion_terratorch.metrics.functional.copy_of_sar_ratio`, below 1 when the output looks
      more like the SAR than like the target; a tile equal to its target gives a huge ratio),
      ``psnr_gain`` (:class:`PSNRGain`: from squared errors summed over the epoch, equal to PSNR of
      the output minus PSNR of the input) and ``ssim_gain`` (per tile SSIM of the output minus SSIM
      of the input, both against the target).

    The SAR agreement runs once per image and batch (output, input, and target when given); the
    agreement metrics are torchmetrics ``MeanMetric`` accumulators of those per-tile scores.

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
        self.agreement = agreement_cls(bands)
        self.sar = nn.ModuleDict(
            {name: MeanMetric() for name in ("sar_agreement", "sar_agreement_input", "sar_agreement_gain")}
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
        self.grounding = nn.ModuleDict(
            {
                "sar_agreement_target": MeanMetric(),
                "sar_agreement_excess": MeanMetric(),
                "copy_of_sar_ratio": MeanMetric(),
                "psnr_gain": PSNRGain(),
                "ssim_gain": MeanMetric(),
            }
        )

    def update(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> None:
        """Update every metric that applies to this batch."""
        output, optical, sar = output.detach().float(), optical.float(), sar.float()
        after = self.agreement.score(output, sar, mask)
        before = self.agreement.score(optical, sar, mask)
        self.sar["sar_agreement"].update(after)
        self.sar["sar_agreement_input"].update(before)
        self.sar["sar_agreement_gain"].update(after - before)
        for metric in self.change.values():
            metric.update(output, optical, mask)
        if target is None:
            return
        target = target.float()
        for metric in self.target.values():
            metric.update(output, target, mask)
        truth = self.agreement.score(target, sar, mask)
        grounding = self.grounding
        grounding["sar_agreement_target"].update(truth)
        grounding["sar_agreement_excess"].update((after - truth).clamp_min(0))
        grounding["copy_of_sar_ratio"].update(copy_of_sar_ratio(output, sar, target, self.bands, mask))
        grounding["psnr_gain"].update(output, optical, target, mask)
        grounding["ssim_gain"].update(
            ssim_per_sample(output, target, mask) - ssim_per_sample(optical, target, mask)
        )

    def _metrics(self) -> dict[str, nn.Module]:
        return {**self.sar, **self.change, **self.target, **self.grounding}

    def compute(self) -> dict[str, Tensor]:
        """Values of the metrics updated since the last reset."""
        return {name: m.compute() for name, m in self._metrics().items() if m.update_count > 0}

    def reset(self) -> None:
        """Reset every metric."""
        for metric in self._metrics().values():
            metric.reset()
