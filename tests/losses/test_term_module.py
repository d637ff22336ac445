"""TermModule: a loss term names the inputs it reads and is still called with all five."""

import pytest
import torch
from torch import Tensor

from axion_terratorch.losses import LossComposite, SpectralLoss, TermModule, WeightedTerm


class TargetGap(TermModule):
    """A user's term reading two inputs only."""

    def term(self, output: Tensor, target: Tensor | None) -> Tensor:
        return output.new_zeros(()) if target is None else (output - target).abs().max()


def test_term_gets_the_inputs_its_signature_names_in_a_composite():
    output, optical, sar = torch.ones(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 8)
    target = torch.full((1, 3, 8, 8), 0.25)
    loss = LossComposite({"gap": WeightedTerm(TargetGap(), 2.0)})
    terms = loss(output, optical, sar, target=target)
    assert TargetGap.reads == ("output", "target")
    assert terms["gap"].item() == 0.75
    assert terms["loss"].item() == 1.5
    assert loss(output, optical, sar)["gap"].item() == 0


def test_shipped_term_reads_what_it_uses():
    assert SpectralLoss.reads == ("output", "target", "mask")


def test_a_term_reading_an_unknown_input_is_refused_naming_it():
    with pytest.raises(TypeError, match=r"reads \['image'\]"):

        class Wrong(TermModule):
            def term(self, output: Tensor, image: Tensor) -> Tensor:
                return output.mean()
