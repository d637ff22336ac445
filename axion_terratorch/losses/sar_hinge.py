"""SAR agreement as a bounded constraint: raise the output's agreement up to a ceiling (the hinge),
charge agreement past it (the excess)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import AGREEMENT_RHO, AGREEMENT_SAR_SIGMA, check_pair, orientation_agreement
from axion_terratorch.losses.composite import TermModule

#: Default margin above the Stage 2 input's agreement for tiles without a target.
SAR_HEADROOM = 0.05
#: What :class:`SARAgreementExcess` charges agreement past, given a target: the target's agreement,
#: or the larger of the target's and the Stage 2 input's.
ExcessCeiling = Literal["target", "target_or_input"]


def check_excess_ceiling(value: str, name: str = "ceiling") -> None:
    """Refuse a ``value`` that is not an :data:`ExcessCeiling`; the message names the option ``name``.

    Raises:
        ValueError: If ``value`` is not one of :data:`ExcessCeiling`.
    """
    if value not in get_args(ExcessCeiling):
        msg = f"{name} must be one of {list(get_args(ExcessCeiling))}, got {value!r}"
        raise ValueError(msg)


class SARAgreementCeiling(TermModule, ABC):
    """Base of the two sides of the SAR constraint: per tile, the output's agreement against a ceiling.

    The ceiling is ``agreement(target)`` with a target (real Sentinel-2), else
    ``agreement(optical) + headroom``; it is detached. Subclasses set the agreement's ``weighting``
    (:func:`~axion_terratorch.functional.orientation_agreement`) and the per-tile ``gap``; the
    forward pass returns its mean over tiles.

    Args:
        headroom: Margin above the input's agreement when there is no target (>= 0).
        bands: Optical bands (R, G, B among them).
        sar_sigma: Gaussian sigma (px) smoothing the SAR before its structure tensor.
        rho: Integration scale (px) of the structure tensors.
    """

    #: The agreement's weighting (:func:`~axion_terratorch.functional.orientation_agreement`).
    weighting: ClassVar[Literal["joint", "sar"]]
    #: Given a target, ``"target_or_input"`` raises the ceiling to the Stage 2 input's agreement.
    ceiling: ExcessCeiling = "target"

    def __init__(
        self,
        headroom: float = SAR_HEADROOM,
        bands: Sequence[str] = DEFAULT_BANDS,
        sar_sigma: float = AGREEMENT_SAR_SIGMA,
        rho: float = AGREEMENT_RHO,
    ) -> None:
        super().__init__()
        check_at_least(0, {"headroom": headroom}, finite=True)
        self.headroom = headroom
        self.bands = tuple(bands)
        self.sar_sigma = sar_sigma
        self.rho = rho

    @abstractmethod
    def gap(self, agreement: Tensor, ceiling: Tensor) -> Tensor:
        """Per-tile value of the term from the output's agreement and the ceiling, both ``(B,)``."""

    def term(
        self, output: Tensor, optical: Tensor, sar: Tensor, target: Tensor | None, mask: Tensor | None
    ) -> Tensor:
        """Mean over tiles (scalar), against ``target`` if given, else ``optical + headroom``."""
        reference, margin = (optical, self.headroom) if target is None else (target, 0.0)
        check_pair(output, reference)
        settings = (self.bands, mask, self.sar_sigma, self.rho, self.weighting)
        agreement = orientation_agreement(output, sar, *settings)
        with torch.no_grad():
            ceiling = orientation_agreement(reference, sar, *settings) + margin
            if target is not None and self.ceiling == "target_or_input":
                ceiling = torch.maximum(ceiling, orientation_agreement(optical, sar, *settings))
        return self.gap(agreement, ceiling).mean()

    def extra_repr(self) -> str:
        return f"headroom={self.headroom}, bands={self.bands}"


class SARAgreementHinge(SARAgreementCeiling):
    """Hinge on the SAR agreement: ``mean over tiles of relu(ceiling - agreement(output))``.

    The agreement is the SAR-coherence-weighted orientation agreement of the SAR structure term
    (:func:`~axion_terratorch.functional.orientation_agreement` with ``weighting="sar"``). The
    ceiling of each tile (:class:`SARAgreementCeiling`) is

    - with a target (real Sentinel-2): ``agreement(target)``: the output may be pulled up to the true
      image's own agreement and is never rewarded for going past it;
    - without one: ``agreement(optical) + headroom``: never rewards raising the agreement more than
      ``headroom`` above the Stage 2 input's.

    Unlike ``1 - agreement`` (:class:`SARConsistencyLoss`), whose minimum is an image that copies the
    SAR's structure, the hinge is 0 as soon as the output agrees as much as the ceiling, so
    imprinting SAR texture beyond it lowers nothing.

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)``
          dB; mask: ``(B, 1, H, W)`` (True = valid).
        - Output: scalar in ``[0, 2 + headroom]``.
    """

    weighting = "sar"

    def gap(self, agreement: Tensor, ceiling: Tensor) -> Tensor:
        """The shortfall below the ceiling: ``relu(ceiling - agreement)``."""
        return F.relu(ceiling - agreement)


class SARAgreementExcess(SARAgreementCeiling):
    """Over-grounding: ``mean over tiles of relu(agreement(output) - ceiling)``.

    The other side of :class:`SARAgreementHinge`: it charges agreement past the true image's (or past
    the input's plus ``headroom``) and never pulls agreement up. The agreement is the project's
    metric (:func:`~axion_terratorch.functional.sar_agreement`, jointly coherence-weighted),
    the one ``sar_agreement_excess`` logs, so the term and the logged excess are the same number.
    Why not the hinge's SAR weighting: under it, an output that sharpens the main edges and
    smooths the fine texture stays at the truth's agreement while the metric's, which counts the
    output's coherent structure only, goes past it (``docs/quality.md``).

    With ``ceiling="target_or_input"`` a tile's ceiling, given a target, is the larger of the
    target's and the Stage 2 input's agreement: an input that already agrees with the SAR more than
    the truth (a blurred estimate, whose remaining edges are the SAR's main ones) may keep that
    agreement, and only agreement the output adds past both is charged. The logged
    ``sar_agreement_excess`` stays against the target alone.

    Args:
        headroom, bands, sar_sigma, rho: As :class:`SARAgreementCeiling`.
        ceiling: ``"target"`` or ``"target_or_input"``.

    Shape:
        - output, optical, target: ``(B, C, H, W)`` reflectance in ``bands``; sar: ``(B, 2, H, W)``
          dB; mask: ``(B, 1, H, W)`` (True = valid).
        - Output: scalar in ``[0, 2]``.
    """

    weighting = "joint"

    def __init__(
        self,
        headroom: float = SAR_HEADROOM,
        bands: Sequence[str] = DEFAULT_BANDS,
        sar_sigma: float = AGREEMENT_SAR_SIGMA,
        rho: float = AGREEMENT_RHO,
        ceiling: ExcessCeiling = "target",
    ) -> None:
        super().__init__(headroom, bands, sar_sigma, rho)
        check_excess_ceiling(ceiling)
        self.ceiling = ceiling

    def gap(self, agreement: Tensor, ceiling: Tensor) -> Tensor:
        """Agreement past the ceiling: ``relu(agreement - ceiling)``."""
        return F.relu(agreement - ceiling)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, ceiling={self.ceiling!r}"
