"""The residual model leaves the input's radiometry alone (``radiometry="preserve"``)."""

import pytest
import torch

from axion_terratorch.constants import OPTICAL_KEY
from axion_terratorch.models import TerraMindResidualGrounding
from axion_terratorch.models.radiometry import TileRadiometry
from tests.models.test_residual_grounding import make_image, perturb


def model(
    radiometry: str = "preserve", sar_resolution: str = "branch", sar_fill: bool = False
) -> TerraMindResidualGrounding:
    torch.manual_seed(0)
    grounding = TerraMindResidualGrounding(
        variant="tiny",
        pretrained=False,
        decoder_channels=8,
        radiometry=radiometry,
        sar_resolution=sar_resolution,
        sar_fill=sar_fill,
    )
    perturb(grounding, seed=1)
    return grounding.eval()


def test_output_follows_any_band_gain_and_offset_of_the_input():
    """Another processing level or calibration (a per-band gain and offset of the input) grounds to
    the same gain and offset of the output: the model cannot "restore" colours the SAR cannot vouch
    for. The SAR fill (``sar_fill``) keeps this. With ``radiometry="free"`` the model can, and does."""
    image = make_image(32)
    image[OPTICAL_KEY][..., 8:20, 8:24] = 0.6  # a cloud for the fill to take
    gain = torch.tensor([1.3, 0.8, 1.05, 0.9]).view(1, 4, 1, 1)
    offset = torch.tensor([0.08, -0.01, 0.02, 0.0]).view(1, 4, 1, 1)
    shifted = dict(image, **{OPTICAL_KEY: image[OPTICAL_KEY] * gain + offset})
    with torch.no_grad():
        preserving = model()
        torch.testing.assert_close(
            preserving(shifted), preserving(image) * gain + offset, atol=1e-5, rtol=1e-5
        )
        filling = model(sar_fill=True)
        torch.testing.assert_close(filling(shifted), filling(image) * gain + offset, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(filling(image), preserving(image), atol=1e-4)  # the fill took pixels
        free = model("free")
        assert not torch.allclose(free(shifted), free(image) * gain + offset, atol=1e-3)


def test_no_band_shifts_as_a_whole():
    """The change ``output - input`` has a zero median in every band of every tile, while the
    model does change the image."""
    image = make_image(48, batch=3)
    with torch.no_grad():
        change = model()(image) - image[OPTICAL_KEY]
    assert change.abs().amax() > 1e-3
    torch.testing.assert_close(change.flatten(-2).median(-1).values, torch.zeros(3, 4), atol=1e-7, rtol=0)


def test_flat_band_is_not_blown_up():
    """A constant band (spread 0) is standardised with the floor spread, so it stays finite."""
    image = make_image(32)
    image[OPTICAL_KEY][:, 2] = 0.2
    radiometry = TileRadiometry.of(image[OPTICAL_KEY])
    assert torch.isfinite(radiometry.standardize(image[OPTICAL_KEY])).all()
    with torch.no_grad():
        assert torch.isfinite(model()(image)).all()


def test_weights_of_the_other_radiometry_are_refused_naming_the_setting():
    """Weights trained under one radiometry would silently give wrong outputs under the other;
    weights saved before the setting existed (no marker) are ``free``."""
    free_state = model("free").state_dict()
    with pytest.raises(ValueError, match="radiometry: free"):
        model("preserve").load_state_dict(free_state)
    legacy = {k: v for k, v in free_state.items() if k != "preserves_radiometry"}
    with pytest.raises(ValueError, match="before the setting existed"):
        model("preserve").load_state_dict(legacy)
    restored = model("free")
    restored.load_state_dict(legacy)
    image = make_image(32)
    with torch.no_grad():
        torch.testing.assert_close(restored(image), model("free")(image))
    with pytest.raises(ValueError, match="radiometry must be one of"):
        TerraMindResidualGrounding(variant="tiny", pretrained=False, radiometry="auto")


def test_branch_needs_the_unet_decoder():
    with pytest.raises(ValueError, match="decoder='unet'"):
        TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder="fcn", sar_resolution="branch")


def test_gate_applies_the_correction_only_where_it_opens():
    """With ``gate=True`` the output is the input wherever the gate is shut, and the gate of the last
    forward pass is kept for the task to supervise."""
    torch.manual_seed(0)
    grounding = TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=8, gate=True)
    perturb(grounding, seed=1)
    grounding.eval()
    image = make_image(32)
    with torch.no_grad():
        open_output = grounding(image)
        assert grounding.last_gate.shape == (2, 1, 32, 32)
        assert 0 < float(grounding.last_gate.min()) <= float(grounding.last_gate.max()) < 1
        grounding.gate_head[-1].bias.fill_(-1e4)  # shut everywhere
        shut_output = grounding(image)
    assert (open_output - image[OPTICAL_KEY]).abs().amax() > 1e-4
    torch.testing.assert_close(shut_output, image[OPTICAL_KEY])
    assert TerraMindResidualGrounding(variant="tiny", pretrained=False, decoder_channels=8).gate_head is None
