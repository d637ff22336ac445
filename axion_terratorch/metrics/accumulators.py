"""Accumulators the metrics build on: float64 sums, a sum over a count, a mean of per-sample scores.

The states are torchmetrics' own: ``add_state`` with float64 defaults, which torchmetrics keeps in
float64 through ``.half()`` and ``.float()`` (not through ``.to(dtype)``, which Lightning's
``*-true`` precisions call) and sums across ranks. They sum in
float64 so a mean over a long validation (or the sum of squared errors of a PSNR) does not lose
digits. ``MeanMetric(nan_strategy="disable").set_dtype(torch.float64)`` gives the same bits as
:class:`PerSampleMean` (it casts inputs before summing; docs/experiments.md), but :class:`SumCount`
also serves ratios of two sums (PSNR, spectral angle), so one family serves both and the states
keep their names.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class Float64Sums(Metric):
    """A metric whose states are float64 sums that torchmetrics adds up across ranks.

    Subclasses create them with :meth:`add_sums` in ``__init__``.
    """

    full_state_update = False
    is_differentiable = True
    higher_is_better = True

    def add_sums(self, *names: str, shape: tuple[int, ...] = ()) -> None:
        """Add float64 states of zeros of ``shape``, reduced by sum across ranks."""
        for name in names:
            self.add_state(name, default=torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")


class SumCount(Float64Sums):
    """A sum and a count (float64, reduced by sum across ranks); ``compute()`` is their ratio.

    Subclasses implement ``update`` with :meth:`add` and may override ``compute`` (e.g. PSNR of the
    mean squared error).
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_sums("total", "count")

    def add(self, total: Tensor, count: Tensor | float) -> None:
        """Add ``total`` to the sum and ``count`` to the count."""
        self.total += total.detach().double()
        self.count += torch.as_tensor(count, dtype=torch.float64, device=self.count.device)

    def compute(self) -> Tensor:
        """Sum over count (0 before any update)."""
        return (self.total / self.count.clamp_min(1)).float()


class PerSampleMean(SumCount):
    """Mean over samples of a per-sample score; ``update`` implementations call :meth:`accumulate`."""

    def accumulate(self, scores: Tensor) -> None:
        """Add the per-sample ``scores`` ``(B,)``: their sum and their number."""
        self.add(scores.detach().double().sum(), scores.numel())  # summed in float64
