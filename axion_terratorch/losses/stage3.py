"""The Stage 3 objective: fidelity to the target (spectral L1 + SSIM), a bounded SAR constraint, preservation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from torch import Tensor

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import SAR_SIGMA
from axion_terratorch.losses.composite import LossComposite, WeightedTerm
from axion_terratorch.losses.lpips import LPIPSLoss
from axion_terratorch.losses.preservation import CycleLoss, IdentityLoss
from axion_terratorch.losses.sar_consistency import SARConsistencyLoss
from axion_terratorch.losses.sar_hinge import (
    SAR_HEADROOM,
    ExcessCeiling,
    SARAgreementExcess,
    SARAgreementHinge,
    check_excess_ceiling,
)
from axion_terratorch.losses.spectral import SpectralLoss
from axion_terratorch.losses.ssim import SSIMLoss
from axion_terratorch.lpips import LPIPSNet, left_out_note, wants_lpips

SARObjective = Literal["hinge", "unbounded"]

#: Arguments that configure the ``"unbounded"`` SAR term only, with their defaults.
UNBOUNDED_ONLY = {"structure_weight": 1.0, "edge_weight": 0.0, "texture_weight": 0.0, "sar_sigma": SAR_SIGMA}


class Stage3Loss(LossComposite):
    """``loss = a SAR + b cycle + g identity + d LPIPS + e spectral + z ssim + x sar_excess + extra terms``.

    Weights ``a..e`` default to the original Stage 3 guide's 1.0 / 0.5 / 0.3 / 0.1 / 1.0, ``z``
    (``ssim_weight``) to 1.0 and ``x`` (``sar_excess_weight``) to 0. When the batch has a real
    Sentinel-2 ``target``, fidelity to it is the main objective:
    ``spectral`` (masked L1) and ``ssim`` (``1 - SSIM``, :class:`SSIMLoss`). Both are 0 without a
    target. ``ssim_weight`` 1.0 because ``1 - SSIM`` and the SAR hinge are both unitless structure
    scores of the same order (0..2), while an L1 on reflectance is a few hundredths: at weight 1 a
    loss of structural similarity to the truth costs as much as the same shortfall in SAR agreement,
    so the SAR term cannot buy agreement with structure the true image does not have.

    The SAR term (``sar_objective``):

    - ``"hinge"`` (default), :class:`SARAgreementHinge`: a bounded constraint. Per tile
      ``relu(agreement(target) - agreement(output))`` with a target,
      ``relu(agreement(optical) + sar_headroom - agreement(output))`` without; mean over tiles. It
      raises the output's agreement up to the true image's (or the input's plus ``sar_headroom``)
      and never rewards going past it.
    - ``"unbounded"``, :class:`SARConsistencyLoss`: ``1 - agreement`` (plus the original guide's edge
      and texture terms by ``structure_weight``, ``edge_weight``, ``texture_weight``, ``sar_sigma``),
      minimised by copying the SAR's structure into the output; kept for comparison. Those four
      arguments apply to it only and must keep their defaults with ``"hinge"``.

    ``sar_excess_weight`` (default 0) adds the other side of the constraint, ``sar_excess``
    (:class:`SARAgreementExcess`): per tile ``relu(agreement(output) - agreement(target))`` (without a
    target, above the input's plus ``sar_headroom``), mean over tiles, with the agreement the
    metrics log (jointly coherence-weighted), so it is the logged ``sar_agreement_excess``. The
    hinge only stops rewarding agreement past the truth's; the excess term also charges for it. A restoration that sharpens the main edges but cannot restore
    the true image's fine texture ends up agreeing with the SAR more than the truth does; the
    excess term keeps it at the truth's level (``configs/stage3.real.yaml``, ``docs/quality.md``).
    It is computed and returned only when its weight is above 0. ``sar_excess_ceiling:
    target_or_input`` charges only agreement past both the truth's and the input's (a blurred input
    often agrees more than the truth; :class:`SARAgreementExcess`).

    ``bands`` (the optical bands, R, G, B among them) default to ``None``: those of the model of the
    :class:`~axion_terratorch.SARGroundingTask` the loss is given to, which calls :meth:`use_bands`
    (``DEFAULT_BANDS`` when the loss is used on its own), so a config writes the bands once, in the
    model. Bands given explicitly must equal the model's.

    ``optical`` (the Stage 2 input) is the reference of the cycle, identity and LPIPS terms. LPIPS
    is a term when ``lpips_weight > 0`` and ``use_lpips`` allows it: ``None`` (default) when its
    backbone weights are on this machine, else it is left out and :attr:`lpips_note` says so (nothing
    is downloaded unasked, :mod:`axion_terratorch.lpips`); ``True`` always (downloading the weights if
    need be); ``False`` never.

    ``extra_terms`` adds terms of your own after these, each a module with the arguments of every
    term (:data:`~axion_terratorch.losses.LossTerm`) and its weight
    (:class:`~axion_terratorch.losses.WeightedTerm`), e.g. in YAML::

        extra_terms:
          tv: {term: {class_path: my_package.TotalVariation}, weight: 0.05}

    The preset is a :class:`~axion_terratorch.losses.LossComposite` of named terms. Returns a dict:
    ``loss`` (the weighted total) and each term's raw value under its name: ``sar_hinge``
    (``sar_objective: hinge``) or ``sar_consistency`` (``unbounded``), ``cycle``, ``identity``,
    ``lpips`` (only when LPIPS is a term), ``spectral``, ``ssim``, ``sar_excess`` (only with
    ``sar_excess_weight > 0``), the extra terms, and ``cycle_identity`` (the weighted preservation
    part, ``b cycle + g identity``). ``sar_consistency_weight`` weights whichever SAR term is active.

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
        use_lpips: bool | None = None,
        lpips_net: LPIPSNet = "alex",
        lpips_pretrained_backbone: bool = True,
        bands: Sequence[str] | None = None,
        ssim_weight: float = 1.0,
        sar_objective: SARObjective = "hinge",
        sar_headroom: float = SAR_HEADROOM,
        sar_excess_weight: float = 0.0,
        sar_excess_ceiling: ExcessCeiling = "target",
        extra_terms: Mapping[str, WeightedTerm] | None = None,
    ) -> None:
        super().__init__()
        weights = {
            "sar_consistency_weight": sar_consistency_weight,
            "cycle_weight": cycle_weight,
            "identity_weight": identity_weight,
            "lpips_weight": lpips_weight,
            "spectral_weight": spectral_weight,
            "ssim_weight": ssim_weight,
            "sar_excess_weight": sar_excess_weight,
        }
        check_at_least(0, weights)
        check_at_least(0, {"sar_headroom": sar_headroom}, finite=True)  # named as the user configures it
        check_excess_ceiling(sar_excess_ceiling, "sar_excess_ceiling")  # refused even with the term off
        #: Whether the bands are left to the model (``bands=None``), see :meth:`use_bands`.
        self.follows_model_bands = bands is None
        bands = self.bands = DEFAULT_BANDS if bands is None else tuple(bands)
        self.sar_objective = sar_objective
        match sar_objective:
            case "hinge":
                given = {
                    "structure_weight": structure_weight,
                    "edge_weight": edge_weight,
                    "texture_weight": texture_weight,
                    "sar_sigma": sar_sigma,
                }
                for name, value in given.items():
                    if value != UNBOUNDED_ONLY[name]:
                        msg = (
                            f"{name}={value} configures sar_objective='unbounded' only; with "
                            f"sar_objective='hinge' leave it at {UNBOUNDED_ONLY[name]} "
                            "(scale the SAR term with sar_consistency_weight)"
                        )
                        raise ValueError(msg)
                self.add_term("sar_hinge", SARAgreementHinge(sar_headroom, bands), sar_consistency_weight)
            case "unbounded":
                sar_term = SARConsistencyLoss(structure_weight, edge_weight, texture_weight, sar_sigma, bands)
                self.add_term("sar_consistency", sar_term, sar_consistency_weight)
            case _:
                msg = f"sar_objective must be 'hinge' or 'unbounded', got {sar_objective!r}"
                raise ValueError(msg)
        #: Why LPIPS is not a term though ``lpips_weight > 0`` (its weights are not here), else ``None``;
        #: the task prints it when training starts.
        self.lpips_note: str | None = None
        self.add_term("cycle", CycleLoss(), cycle_weight)
        self.add_term("identity", IdentityLoss(), identity_weight)
        if lpips_weight > 0 and wants_lpips(use_lpips, lpips_net, lpips_pretrained_backbone):
            lpips_term = LPIPSLoss(bands, net=lpips_net, pretrained_backbone=lpips_pretrained_backbone)
            self.add_term("lpips", lpips_term, lpips_weight)
        elif lpips_weight > 0 and use_lpips is None:
            self.lpips_note = left_out_note(lpips_net, "`use_lpips: true` in the loss")
        self.add_term("spectral", SpectralLoss(), spectral_weight)
        self.add_term("ssim", SSIMLoss(), ssim_weight)
        if sar_excess_weight > 0:
            excess = SARAgreementExcess(sar_headroom, bands, ceiling=sar_excess_ceiling)
            self.add_term("sar_excess", excess, sar_excess_weight)
        for name, entry in (extra_terms or {}).items():
            self.add_term(name, entry.term, entry.weight)

    def derived_terms(self, terms: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """``cycle_identity``: the weighted cycle and identity terms together."""
        weights = self.weights
        return {"cycle_identity": weights["cycle"] * terms["cycle"] + weights["identity"] * terms["identity"]}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sar_objective={self.sar_objective!r}, bands={self.bands}"
