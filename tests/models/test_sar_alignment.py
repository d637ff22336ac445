"""The training-free SAR-guided registration the grounding models are compared with."""

import pytest
import torch

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import SARRegistration

#: The known shift of the optical estimate, (dy, dx) pixels.
SHIFT = (2, -1)
#: Pixels from the border left out of the scores (the rolled image wraps around there).
BORDER = 8


def fields_scene(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A SAR and a true optical image of the same 8 px fields, the SAR with speckle-like noise."""
    generator = torch.Generator().manual_seed(0)
    pattern = torch.nn.functional.interpolate(torch.rand(1, 1, 8, 8, generator=generator), size=size)
    truth = (0.05 + 0.25 * pattern).expand(1, 4, size, size).clone()
    sar = -18 + 10 * pattern.expand(1, 2, size, size) + torch.randn(1, 2, size, size, generator=generator)
    return sar, truth


def test_a_known_shift_is_recovered_where_sar_and_truth_share_structure():
    """The optical estimate, shifted by 2 px and -1 px, is moved back: the field recovers the shift
    within 0.3 px and the output is far closer to the truth than the input."""
    sar, truth = fields_scene()
    shifted = truth.roll(SHIFT, dims=(-2, -1))
    registration = SARRegistration(block=32, stride=16, radius=3)
    image = {SAR_KEY: sar, OPTICAL_KEY: shifted}
    field = registration.displacement(image)[0, :, BORDER:-BORDER, BORDER:-BORDER].mean(dim=(-2, -1))
    output = registration(image)
    inner = (..., slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    assert torch.allclose(field, torch.tensor(SHIFT, dtype=field.dtype), atol=0.3)
    assert (output - truth)[inner].abs().mean() < 0.2 * (shifted - truth)[inner].abs().mean()
    assert output.shape == shifted.shape


def test_a_sar_without_structure_leaves_the_input_alone():
    """A flat SAR vouches for no position: the field is zero and the input passes unchanged."""
    _, truth = fields_scene()
    registration = SARRegistration(block=32, stride=16, radius=3)
    output = registration({SAR_KEY: torch.full((1, 2, 64, 64), -12.0), OPTICAL_KEY: truth})
    assert torch.allclose(output, truth, atol=1e-5)


def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="block"):
        SARRegistration(block=4)
    with pytest.raises(ValueError, match="radius"):
        SARRegistration(radius=0)
    with pytest.raises(ValueError, match="block must be <= the image size"):
        SARRegistration(block=64)(
            {SAR_KEY: torch.zeros(1, 2, 32, 32), OPTICAL_KEY: torch.zeros(1, 4, 32, 32)}
        )
