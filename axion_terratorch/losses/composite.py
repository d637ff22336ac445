"""An open loss: a weighted sum of named terms, each a module called as ``term(output, optical, sar, target, mask)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import torch
from torch import Tensor, nn

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import assign_bands
from axion_terratorch.init_config import RecordsInitArgs

#: Names a term cannot take: the total's key, and what :class:`Stage3Loss` derives from its terms.
RESERVED_NAMES = ("loss", "cycle_identity")
#: The inputs of every loss term, in the order :data:`LossTerm` takes them.
TERM_INPUTS = ("output", "optical", "sar", "target", "mask")


#: What every loss term is: a module called as ``term(output, optical, sar, target=None, mask=None)``
#: that returns a scalar (inputs and shapes: :meth:`TermModule.forward`). A term need not subclass
#: :class:`TermModule`; any ``nn.Module`` with that ``forward`` is one.
LossTerm: TypeAlias = Callable[..., Tensor]


class TermModule(nn.Module):
    """Base of the modules called with one batch's loss inputs: a loss term that reads only some of
    them, and :class:`LossComposite`, which reads all.

    A subclass defines :meth:`term` with the inputs it reads, by their :data:`TERM_INPUTS` names (e.g.
    ``term(self, output, target, mask)``); its ``forward`` takes all five, as every term is called,
    and passes :meth:`term` those.
    """

    #: The inputs :meth:`term` reads, from its signature.
    reads: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.reads = tuple(inspect.signature(cls.term).parameters)[1:]
        unknown = [name for name in cls.reads if name not in TERM_INPUTS]
        if unknown:
            msg = f"{cls.__name__}.term reads {unknown}, which are not loss term inputs {list(TERM_INPUTS)}"
            raise TypeError(msg)

    def term(self, *inputs: Tensor | None) -> Any:
        """The term of the inputs its signature names: a scalar (a composite: its named terms)."""
        raise NotImplementedError

    def forward(
        self,
        output: Tensor,
        optical: Tensor,
        sar: Tensor,
        target: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Any:
        """The term of one batch (:data:`LossTerm`'s call).

        Shape:
            - output, optical: ``(B, C, H, W)`` reflectance (the grounded output and the Stage 2
              input); sar: ``(B, 2, H, W)`` VV/VH dB; target: ``(B, C, H, W)`` real Sentinel-2 or
              ``None``; mask: ``(B, 1, H, W)`` or ``(B, H, W)`` per-pixel weight (1 = valid) or ``None``.
            - Output: scalar. A term that needs a target returns 0 without one.
        """
        given = dict(zip(TERM_INPUTS, (output, optical, sar, target, mask), strict=True))
        return self.term(*(given[name] for name in self.reads))


@dataclass
class WeightedTerm:
    """A loss term and its weight, as one entry of :class:`LossComposite` (or ``extra_terms`` of
    :class:`Stage3Loss`) gives them in YAML::

        tv:
          term: {class_path: my_package.TotalVariation}
          weight: 0.05
    """

    term: nn.Module
    weight: float = 1.0


class LossComposite(RecordsInitArgs, TermModule):
    """``loss = sum of weight * term`` over named terms (:data:`LossTerm`), in the order given.

    Returns a dict: the total under ``loss`` and each term's raw (unweighted) value under its name,
    which :class:`~axion_terratorch.SARGroundingTask` logs as ``train/loss/<name>`` and
    ``val/loss/<name>``. A term of weight 0 is computed and returned (logged, monitored only)
    without keeping a graph for it.

    Terms with a ``bands`` attribute compute on the bands of the model of the
    :class:`~axion_terratorch.SARGroundingTask` the loss is given to (:meth:`use_bands`).

    Args:
        terms: Name to :class:`WeightedTerm`; names must not be ``loss`` or ``cycle_identity``.
    """

    #: The task gives the model's bands to every term (:meth:`use_bands`).
    follows_model_bands = True

    def __init__(self, terms: Mapping[str, WeightedTerm] | None = None) -> None:
        super().__init__()
        self.terms = nn.ModuleDict()
        #: Weight of each term, by name.
        self.weights: dict[str, float] = {}
        for name, entry in (terms or {}).items():
            self.add_term(name, entry.term, entry.weight)

    def add_term(self, name: str, term: nn.Module, weight: float = 1.0) -> None:
        """Add ``term`` under ``name`` with ``weight`` (>= 0) after the terms already there."""
        if name in RESERVED_NAMES or name in self.terms:
            taken = "reserved" if name in RESERVED_NAMES else "already a term"
            msg = f"loss term name {name!r} is {taken}; terms so far: {list(self.terms)}"
            raise ValueError(msg)
        check_at_least(0, {f"weight of loss term {name!r}": weight}, finite=True)
        self.terms[name] = term
        self.weights[name] = weight

    def term(  # type: ignore[override]
        self, output: Tensor, optical: Tensor, sar: Tensor, target: Tensor | None, mask: Tensor | None
    ) -> dict[str, Tensor]:
        """Named terms and their weighted total under ``"loss"`` (called through ``forward``)."""
        values = {}
        for name, term in self.terms.items():
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.weights[name] > 0):
                values[name] = term(output, optical, sar, target, mask)
        total = sum(self.weights[name] * value for name, value in values.items())
        return {"loss": total, **values, **self.derived_terms(values)}

    def derived_terms(self, terms: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Values a subclass derives from the named ``terms`` and returns beside them (logged, not in
        the total); none here."""
        return {}

    def use_bands(self, bands: Sequence[str]) -> None:
        """Compute every term on ``bands`` (the model's); they must include B02, B03 and B04."""
        assign_bands(self, bands)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={weight}" for name, weight in self.weights.items())
