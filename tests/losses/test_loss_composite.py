"""The open loss: named terms over one protocol, their weights, and the Stage3Loss preset built on it."""

import pytest
import torch
from stand_in import Brightness
from torch import Tensor

from axion_terratorch.losses import (
    CycleLoss,
    LossComposite,
    SARAgreementHinge,
    SpectralLoss,
    Stage3Loss,
    WeightedTerm,
)
from axion_terratorch.metrics import GroundingMetrics


def batch() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    gen = torch.Generator().manual_seed(0)
    optical = torch.rand(2, 4, 32, 32, generator=gen) * 0.3
    sar = -15 + 3 * torch.randn(2, 2, 32, 32, generator=gen)
    return optical + 0.02, optical, sar, optical * 0.9


def test_total_is_the_weighted_sum_of_named_terms():
    output, optical, sar, target = batch()
    loss = LossComposite(
        {
            "cycle": WeightedTerm(CycleLoss(), 0.5),
            "spectral": WeightedTerm(SpectralLoss()),
            "tv": WeightedTerm(Brightness(), 0.0),
        }
    )
    output.requires_grad_()
    terms = loss(output, optical, sar, target)
    assert list(terms) == ["loss", "cycle", "spectral", "tv"]
    assert torch.allclose(terms["loss"], 0.5 * terms["cycle"] + terms["spectral"])
    assert terms["tv"] == output.mean()  # weight 0: computed and returned (logged) without a graph
    assert not terms["tv"].requires_grad
    assert terms["loss"].requires_grad


@pytest.mark.parametrize("name", ["loss", "cycle_identity", "cycle"])
def test_a_taken_or_reserved_name_is_refused(name):
    loss = LossComposite({"cycle": WeightedTerm(CycleLoss())})
    with pytest.raises(ValueError, match=f"'{name}'"):
        loss.add_term(name, Brightness())


def test_negative_weight_is_refused_with_the_term_name():
    with pytest.raises(ValueError, match="'tv'"):
        LossComposite({"tv": WeightedTerm(Brightness(), -1.0)})


def test_terms_take_the_model_bands():
    loss = LossComposite({"sar_hinge": WeightedTerm(SARAgreementHinge())})
    assert loss.follows_model_bands
    bands = ("B02", "B03", "B04", "B08", "B11")
    loss.use_bands(bands)
    assert loss.terms["sar_hinge"].bands == bands


def test_stage3_extra_terms_join_the_preset():
    output, optical, sar, target = batch()
    base = Stage3Loss(use_lpips=False)(output, optical, sar, target)
    extended = Stage3Loss(use_lpips=False, extra_terms={"tv": WeightedTerm(Brightness(), 0.25)})
    terms = extended(output, optical, sar, target)
    assert terms["tv"] == output.mean()
    assert torch.allclose(terms["loss"], base["loss"] + 0.25 * terms["tv"])
    assert {k: v for k, v in terms.items() if k != "tv" and k != "loss"} == {
        k: v for k, v in base.items() if k != "loss"
    }


def test_lpips_needs_no_download_by_default(tmp_path, monkeypatch, capsys, recwarn):
    """Without the backbone weights on the machine the defaults leave LPIPS out, quietly, and say how
    to add it; nothing is downloaded."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    loss = Stage3Loss()
    metrics = GroundingMetrics()
    assert "lpips" not in loss.terms
    assert "lpips_change" not in metrics
    assert "use_lpips: true" in loss.lpips_note
    assert "lpips: true" in metrics.lpips_note
    assert not list(tmp_path.iterdir())  # no download started
    assert capsys.readouterr() == ("", "")
    assert not recwarn.list
    assert Stage3Loss(use_lpips=False).lpips_note is None  # turned off: nothing to say
