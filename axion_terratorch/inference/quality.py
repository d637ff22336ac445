"""The model-free quality check of a grounded image: restoration, or SAR imprint?

It needs only the Sentinel-1 image, the optical input and the grounded output, so it scores any
grounding (this package's or another tool's) the same way; ``predict``, ``evaluate`` and
``axion-stage3 check`` all use it. The verdict, in order:

1. ``over-grounded`` when the change ``output - input`` follows the SAR's own texture
   (:func:`~axion_terratorch.metrics.imprint.sar_imprint` above ``max_imprint``), or its structure
   follows the SAR's orientations more than the image itself does (the SAR agreement of the change
   above the larger of the input's and the output's by ``max_change_agreement_excess``), or when the
   output's SAR agreement lies above what real optical images reach (``agreement_envelope``) *and*
   rose more than a restoration raises it (``max_agreement_gain``);
2. ``preview-only`` when a band's radiometry changed across the tile
   (:func:`~axion_terratorch.metrics.drift.band_drift` beyond ``max_band_drift``: a change the SAR
   cannot vouch for), when the SAR agreement fell by more than ``max_agreement_loss`` (the
   grounding scrambled structure the SAR confirms), or when too little valid data was scored;
3. ``production`` otherwise: an unchanged input passes.

A restoration's change follows the true scene's structure, so it agrees with the SAR about as much
as the restored image does (less, for the noise it removed), however strongly straight roads and
canals make the scene agree with the SAR; a change that agrees with the SAR more than the image it
made is structure taken from the SAR. The defaults come from the real Sentinel-1/Sentinel-2 pairs
beside the checkout, tuned on the BigEarthNet pairs and reported on the others (``docs/quality.md``,
``benchmarks/quality_check.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:  # torch is imported by check_tiles only: the command line's options need none of it
    from torch import Tensor

QualityFlag = Literal["production", "preview-only", "over-grounded"]


@dataclass(frozen=True)
class Verdict:
    """A quality flag and the reasons for it (empty for ``production``)."""

    flag: QualityFlag
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """``True`` for ``production``."""
        return self.flag == "production"


@dataclass(frozen=True)
class QualityCheck:
    """Thresholds of the verdict (see the module docstring for what each guards against).

    Attributes:
        max_imprint: Largest SAR imprint of an acceptable change, in [0, 1].
        max_change_agreement_excess: Largest excess of the SAR agreement of the change
            ``output - input`` over the larger of the input's and the output's agreement: a
            restoration changes the image along the true scene's structure, an imprint along the SAR's.
        agreement_envelope: SAR agreement above which an optical image agrees with the SAR more than
            real optical images do.
        max_agreement_gain: Largest rise of the SAR agreement a restoration makes; together with
            ``agreement_envelope`` it flags an output pushed past real images.
        max_agreement_loss: Largest fall of the SAR agreement still accepted.
        max_band_drift: Largest band drift (relative change of a band's level shared by 90% of
            the tile, :func:`~axion_terratorch.metrics.drift.band_drift`) still accepted.
    """

    max_imprint: float = 0.3
    max_change_agreement_excess: float = 0.1
    agreement_envelope: float = 0.55
    max_agreement_gain: float = 0.15
    max_agreement_loss: float = 0.1
    max_band_drift: float = 0.05

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not 0 <= value <= 2:
                msg = f"QualityCheck.{field.name} must lie in [0, 2], got {value}"
                raise ValueError(msg)

    def verdict(
        self,
        agreement_input: float | None,
        agreement_output: float | None,
        imprint: float | None,
        change_agreement: float | None,
        drift: Mapping[str, float] | None = None,
    ) -> Verdict:
        """The flag of one image (or scene) from its scores; ``None`` scores mean too little valid data.

        ``drift`` maps each band to its :func:`~axion_terratorch.metrics.drift.band_drift` (left
        unjudged when ``None``).
        """
        drifted = [
            f"{band} changed by {value:+.1%} across the tile (band drift > {self.max_band_drift:.0%})"
            for band, value in (drift or {}).items()
            if abs(value) > self.max_band_drift
        ]
        if any(score is None for score in (agreement_input, agreement_output, imprint, change_agreement)):
            return Verdict("preview-only", ("too little valid data to score", *drifted))
        gain = agreement_output - agreement_input
        excess = change_agreement - max(agreement_input, agreement_output)
        over = []
        if imprint > self.max_imprint:
            over.append(
                f"the change follows the SAR texture (imprint {imprint:.2f} > {self.max_imprint:.2f})"
            )
        if excess > self.max_change_agreement_excess:
            over.append(
                f"the change follows the SAR's orientations more than the image does (change agreement"
                f" {change_agreement:.2f}, {excess:.2f} above the image's > {self.max_change_agreement_excess:.2f})"
            )
        if agreement_output > self.agreement_envelope and gain > self.max_agreement_gain:
            over.append(
                f"SAR agreement {agreement_output:.2f} is above real optical images' ({self.agreement_envelope:.2f})"
                f" and rose by {gain:.2f} (> {self.max_agreement_gain:.2f})"
            )
        if over:
            return Verdict("over-grounded", tuple(over))
        if gain < -self.max_agreement_loss:
            drifted.append(f"SAR agreement fell by {-gain:.2f} (> {self.max_agreement_loss:.2f})")
        return Verdict("preview-only", tuple(drifted)) if drifted else Verdict("production")

    def as_dict(self) -> dict[str, float]:
        """The thresholds, for reports."""
        return dataclasses.asdict(self)


class TileCheck(NamedTuple):
    """The scores of one tile and their verdict (``drift``: band -> band drift)."""

    agreement_input: float
    agreement_output: float
    imprint: float
    change_agreement: float
    drift: dict[str, float]
    verdict: Verdict


def check_tiles(
    output: Tensor,
    optical: Tensor,
    sar: Tensor,
    bands: Sequence[str],
    mask: Tensor | None = None,
    check: QualityCheck | None = None,
) -> list[TileCheck]:
    """Score and judge each tile of a batch.

    Args:
        output: Grounded optical ``(B, C, H, W)`` reflectance.
        optical: Its input, same shape.
        sar: ``(B, 2, H, W)`` VV, VH in dB.
        bands: Optical bands (B02, B03, B04 among them).
        mask: Valid pixels ``(B, 1, H, W)``.
        check: Thresholds (default :class:`QualityCheck`).

    Returns:
        Per tile a :class:`TileCheck`.
    """
    from axion_terratorch.functional import sar_agreement
    from axion_terratorch.metrics.drift import band_drift
    from axion_terratorch.metrics.imprint import sar_imprint

    check = QualityCheck() if check is None else check
    output, optical, sar = output.float(), optical.float(), sar.float()
    before = sar_agreement(optical, sar, bands, mask).tolist()
    after = sar_agreement(output, sar, bands, mask).tolist()
    imprint = sar_imprint(output, optical, sar, mask).tolist()
    change = sar_agreement(output - optical, sar, bands, mask).tolist()
    drifts = [dict(zip(bands, row, strict=True)) for row in band_drift(output, optical, mask).tolist()]
    return [
        TileCheck(*scores, check.verdict(*scores))
        for scores in zip(before, after, imprint, change, drifts, strict=True)
    ]
