"""DDIMSchedule: each update equals terratorch's DDIMScheduler.step (the scheduler the tokenizer ships)."""

import pytest
import torch
from terratorch.models.backbones.terramind.tokenizer.scheduling.scheduling_ddim import DDIMScheduler

from axion_terratorch.models.ddim import DDIMSchedule


@pytest.mark.parametrize(
    "settings",
    [
        {"prediction_type": "v_prediction"},
        {"prediction_type": "epsilon", "clip_sample": False, "zero_terminal_snr": False},
        {"prediction_type": "sample", "zero_terminal_snr": False},
        {
            "prediction_type": "epsilon",
            "thresholding": True,
            "sample_max_value": 2.0,
            "zero_terminal_snr": False,
        },
    ],
)
@pytest.mark.parametrize("num_steps", [1, 3, 10])
def test_every_update_equals_terratorchs_step(settings, num_steps):
    scheduler = DDIMScheduler(**settings)
    schedule = DDIMSchedule(scheduler)
    scheduler.set_timesteps(num_steps)
    pairs = schedule.timesteps(num_steps)
    assert [t for t, _ in pairs] == scheduler.timesteps.tolist()
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 8, 8, generator=generator)
    for t, t_prev in pairs:
        output = torch.randn(2, 3, 8, 8, generator=generator)
        expected = scheduler.step(output, t, sample, return_dict=False)[0]
        sample_next = schedule.step(output, t, t_prev, sample)
        torch.testing.assert_close(sample_next, expected)
        sample = expected
