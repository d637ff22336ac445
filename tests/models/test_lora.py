"""apply_lora on a plain module: adapters where the regex says, the rest frozen, peft's own count logged."""

import logging

from torch import nn

from axion_terratorch.models.lora import LoraSettings, apply_lora, count_parameters


def test_apply_lora_freezes_the_base_and_logs_peft_s_count(caplog):
    module = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    with caplog.at_level(logging.INFO, logger="axion_terratorch.models.lora"):
        wrapped = apply_lora(module, LoraSettings(rank=2, alpha=4.0), default_targets=r"0|2")
    adapters = 2 * (6 + 5) + 2 * (5 + 3)  # rank x (in + out) per adapted layer
    base = 6 * 5 + 5 + 5 * 3 + 3
    assert wrapped.get_nb_trainable_parameters() == (adapters, adapters + base)
    assert count_parameters(wrapped) == (adapters, adapters + base)  # a model holding a peft model
    assert f"{adapters:,} of {adapters + base:,} parameters trainable" in caplog.text
