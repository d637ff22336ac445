"""WarmupCosineLR: linear warmup to the peak, cosine to min_lr at the last step, argument checks,
and the same rates as terratorch's SequentialLR form for a run length written in the config."""

import itertools
import math

import pytest
import torch

from axion_terratorch.schedulers import WarmupCosineLR


def learning_rates(steps, **kwargs):
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    scheduler = WarmupCosineLR(optimizer, total_steps=steps, **kwargs)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_seed_schedule_shape():
    rates = learning_rates(1000, warmup_steps=100, min_lr=1e-6)
    assert rates[0] == pytest.approx(1e-4 / 101)
    assert rates[99] == pytest.approx(1e-4 * 100 / 101)
    assert rates[100] == pytest.approx(1e-4)
    assert rates[550] == pytest.approx(1e-6 + (1e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 450 / 900)))
    assert min(rates[100:]) >= 1e-6
    assert all(a >= b for a, b in itertools.pairwise(rates[100:]))


def test_warmup_ratio_equals_the_same_warmup_in_steps():
    assert learning_rates(200, warmup_ratio=0.1, min_lr=0) == learning_rates(200, warmup_steps=20, min_lr=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup_steps": 10, "warmup_ratio": 0.1}, "exactly one"),
        ({}, "exactly one"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"warmup_steps": 1, "min_lr": -1.0}, "min_lr"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match=match):
        WarmupCosineLR(optimizer, total_steps=100, **kwargs)


def test_run_shorter_than_the_warmup_warns_and_warms_up_over_the_run():
    # the seed's 500 warmup steps in a 5-step debug run: clamped, not refused
    with pytest.warns(UserWarning, match=r"warmup_steps=500 .* warming up over 4 steps"):
        rates = learning_rates(5, warmup_steps=500, min_lr=1e-6)
    assert all(a < b for a, b in itertools.pairwise(rates))
    assert rates[-1] == pytest.approx(1e-4)


def test_terratorch_sequential_form_through_the_task_gives_the_same_rates():
    # SequentialLR(LinearLR, CosineAnnealingLR) as terratorch's optimizer_factory parses it, for a
    # run length written into the config: the same rates as WarmupCosineLR, which takes the length
    # from the trainer instead (see its docstring).
    from axion_terratorch import SARGroundingTask
    from axion_terratorch.losses import Stage3Loss
    from axion_terratorch.metrics import GroundingMetrics

    steps, warmup, peak, floor = 50, 5, 1e-4, 1e-6
    hparams = {
        "interval": "step",
        "schedulers": {
            "LinearLR": {"start_factor": 1 / (warmup + 1), "total_iters": warmup},
            "CosineAnnealingLR": {"T_max": steps - warmup, "eta_min": floor},
        },
        "milestones": [warmup],
    }
    task = SARGroundingTask(
        torch.nn.Conv2d(4, 4, 1),
        loss=Stage3Loss(use_lpips=False),
        metrics=GroundingMetrics(lpips=False),
        lr=peak,
        optimizer_hparams={},
        scheduler="SequentialLR",
        scheduler_hparams=hparams,
    )
    config = task.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = learning_rates(steps, warmup_steps=warmup, min_lr=floor)
    assert rates == pytest.approx(expected, rel=1e-6)
