"""``GroundingMetrics``: the metrics the task logs under ``val/`` and ``test/``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.aggregation import MeanMetric

from axion_terratorch.constants import DEFAULT_BANDS, assign_bands, rgb_indices
from axion_terratorch.functional import (
    copy_of_sar_ratio,
    edge_cosine_agreement,
    sar_agreement,
    ssim_per_sample,
)
from axion_terratorch.init_config import RecordsInitArgs
from axion_terratorch.lpips import LPIPSDistance, LPIPSNet, left_out_note, wants_lpips
from axion_terratorch.metrics.image_quality import MaskedMAE, MaskedPSNR, MaskedSSIM, PSNRGain, SpectralAngle
from axion_terratorch.metrics.lpips_change import LPIPSChange

TargetMetric = Literal["psnr", "ssim", "sam", "mae"]
#: SAR agreement formulas: the project's and the original Stage 3 guide's.
AgreementFormula = Literal["structure_tensor", "edge_cosine"]
#: Names of the per-tile SAR agreement means; the gain is output minus input per tile.
SAR_METRICS = ("sar_agreement", "sar_agreement_input", "sar_agreement_gain")
#: Metrics of the output against the target beyond ``target_metrics``: over-grounding and gains.
GROUNDING_METRICS = (
    "sar_agreement_target",
    "sar_agreement_excess",
    "copy_of_sar_ratio",
    "psnr_gain",
    "ssim_gain",
)


class GroundingMetrics(RecordsInitArgs, MetricCollection):
    """SAR agreement of output and input, its gain, LPIPS change, quality and over-grounding against targets.

    ``update(output, optical, sar, target=None, mask=None)`` feeds (all means over tiles unless said):

    - ``sar_agreement`` (output), ``sar_agreement_input`` (the Stage 2 input) and
      ``sar_agreement_gain`` (per tile output minus input);
    - ``lpips_change`` = LPIPS(input, output), when ``lpips`` allows it;
    - when a target is given: ``psnr``, ``ssim``, ``sam``, ``mae`` (those in ``target_metrics``) and
      the over-grounding metrics ``sar_agreement_target`` (the target's agreement),
      ``sar_agreement_excess`` (per tile ``max(0, agreement(output) - agreement(target))``: clipped
      so that tiles below the true image's agreement, which are not over-grounded, do not offset
      tiles above it), ``copy_of_sar_ratio``
      (:func:`~axion_terratorch.functional.copy_of_sar_ratio`, below 1 when the output looks
      more like the SAR than like the target; a tile equal to its target gives a huge ratio),
      ``psnr_gain`` (:class:`PSNRGain`: from squared errors summed over the epoch, equal to PSNR of
      the output minus PSNR of the input) and ``ssim_gain`` (per tile SSIM of the output minus SSIM
      of the input, both against the target).

    The SAR agreement runs once per image and batch (output, input, and target when given); the
    agreement metrics are torchmetrics ``MeanMetric`` accumulators of those per-tile scores.

    A torchmetrics ``MetricCollection`` (without compute groups: :meth:`update` feeds each metric
    its own inputs): ``clone(prefix="val/")`` gives a per-stage copy whose :meth:`compute` names
    carry the prefix, ``reset()`` clears all, and the metrics move with the module. ``compute()``
    returns only the metrics that received data (no target, no target metrics). Subclass it to add
    metrics (add them with ``add_metrics``, override ``update`` and call ``super().update``).

    Args:
        bands: Optical bands (R, G, B must be among them); ``None``: those of the model of the
            :class:`~axion_terratorch.SARGroundingTask` the metrics are given to, which calls
            :meth:`use_bands` (``DEFAULT_BANDS`` on their own). Given explicitly, they must equal
            the model's.
        agreement: ``structure_tensor`` (the project's metric) or ``edge_cosine`` (the original
            Stage 3 guide's).
        lpips: Compute ``lpips_change``: ``None`` (default) when the LPIPS backbone weights are on this
            machine (else it is left out and :attr:`lpips_note` says so; nothing is downloaded
            unasked), ``True`` always (downloading them if need be), ``False`` never.
        lpips_net: LPIPS backbone.
        lpips_pretrained_backbone: ``False`` only for tests (random backbone).
        target_metrics: Metrics against the target.
    """

    def __init__(
        self,
        bands: Sequence[str] | None = None,
        agreement: AgreementFormula = "structure_tensor",
        lpips: bool | None = None,
        lpips_net: LPIPSNet = "alex",
        lpips_pretrained_backbone: bool = True,
        target_metrics: Sequence[TargetMetric] = ("psnr", "ssim", "sam"),
    ) -> None:
        if agreement not in get_args(AgreementFormula):
            msg = f"agreement must be one of {list(get_args(AgreementFormula))}, got {agreement!r}"
            raise ValueError(msg)
        unknown = sorted(set(target_metrics) - set(get_args(TargetMetric)))
        if unknown:
            msg = f"unknown target_metrics {unknown}; choose from {sorted(get_args(TargetMetric))}"
            raise ValueError(msg)
        follows_model_bands = bands is None
        bands = DEFAULT_BANDS if bands is None else tuple(bands)
        builders: dict[str, Any] = {
            "psnr": MaskedPSNR,
            "ssim": MaskedSSIM,
            "sam": SpectralAngle,
            "mae": lambda: MaskedMAE(num_bands=len(bands)),
        }
        metrics: dict[str, Metric] = {name: MeanMetric() for name in SAR_METRICS}
        with_lpips = wants_lpips(lpips, lpips_net, lpips_pretrained_backbone)
        if with_lpips:
            metrics["lpips_change"] = LPIPSChange(
                LPIPSDistance(bands, net=lpips_net, pretrained_backbone=lpips_pretrained_backbone)
            )
        metrics |= {name: builders[name]() for name in target_metrics}
        metrics |= {name: PSNRGain() if name == "psnr_gain" else MeanMetric() for name in GROUNDING_METRICS}
        super().__init__(metrics, compute_groups=False)
        rgb_indices(bands)
        self.bands = bands
        #: Whether the bands are left to the model (``bands=None``), see :meth:`use_bands`.
        self.follows_model_bands = follows_model_bands
        self.agreement = agreement
        #: Why ``lpips_change`` is left out (its weights are not here, ``lpips=None``), else ``None``;
        #: the task prints it when training starts.
        self.lpips_note = (
            None if with_lpips or lpips is not None else left_out_note(lpips_net, "`lpips: true`")
        )

    def use_bands(self, bands: Sequence[str]) -> None:
        """Compute every metric on ``bands`` (the model's); they must include B02, B03 and B04."""
        bands = assign_bands(self, bands)
        if "mae" in self:
            self["mae"] = MaskedMAE(num_bands=len(bands))

    def agreement_score(self, image: Tensor, sar: Tensor, mask: Tensor | None = None) -> Tensor:
        """Per-tile SAR agreement ``(B,)`` of ``image`` by the ``agreement`` formula."""
        score = sar_agreement if self.agreement == "structure_tensor" else edge_cosine_agreement
        return score(image, sar, self.bands, mask)

    def update(  # type: ignore[override]
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> None:
        """Update every metric that applies to this batch."""
        output, optical, sar = output.detach().float(), optical.float(), sar.float()
        after = self.agreement_score(output, sar, mask)
        before = self.agreement_score(optical, sar, mask)
        metric = self.metric
        metric("sar_agreement").update(after)
        metric("sar_agreement_input").update(before)
        metric("sar_agreement_gain").update(after - before)
        if "lpips_change" in self:
            metric("lpips_change").update(output, optical, mask)
        if target is None:
            return
        target = target.float()
        for name in get_args(TargetMetric):
            if name in self:
                metric(name).update(output, target, mask)
        truth = self.agreement_score(target, sar, mask)
        metric("sar_agreement_target").update(truth)
        metric("sar_agreement_excess").update((after - truth).clamp_min(0))
        metric("copy_of_sar_ratio").update(copy_of_sar_ratio(output, sar, target, self.bands, mask))
        metric("psnr_gain").update(output, optical, target, mask)
        metric("ssim_gain").update(
            ssim_per_sample(output, target, mask) - ssim_per_sample(optical, target, mask)
        )

    def metric(self, name: str) -> Metric:
        """The metric called ``name`` (without prefix)."""
        return self[name]

    def compute(self) -> dict[str, Tensor]:
        """Values of the metrics updated since the last reset, under their (prefixed) names."""
        return {name: m.compute() for name, m in self.items(keep_base=False) if m.update_count > 0}
