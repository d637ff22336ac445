from importlib.metadata import entry_points

import pytest
import torch
from terratorch.registry import BACKBONE_REGISTRY, FULL_MODEL_REGISTRY

from axion_terratorch.models import registration

VARIANTS = ("tiny", "small", "base", "large")


def test_entry_point_resolves_to_the_registering_module():
    (entry,) = [ep for ep in entry_points(group="terratorch.plugins") if ep.name == "axion_terratorch"]
    module = entry.load()
    assert module is registration
    for variant in VARIANTS:
        assert f"axion_terramind_v1_{variant}_lora" in BACKBONE_REGISTRY
        assert f"axion_terramind_v1_{variant}_residual_grounding" in FULL_MODEL_REGISTRY


def test_registration_is_idempotent():
    before = {
        name: BACKBONE_REGISTRY.find_class(name)
        for name in registration.REGISTERED_NAMES
        if name.endswith("_lora")
    }
    assert registration.register_models() == registration.REGISTERED_NAMES
    after = {name: BACKBONE_REGISTRY.find_class(name) for name in before}
    assert before == after


def test_registered_backbone_builds_and_follows_terratorch_contract():
    backbone = BACKBONE_REGISTRY.build(
        "axion_terramind_v1_tiny_lora", modalities=["S1GRD"], pretrained=False, lora={"rank": 4}
    )
    out = backbone({"S1GRD": torch.randn(1, 2, 32, 32)})
    assert len(out) == len(backbone.out_channels) == 12
    assert out[-1].shape == (1, 4, backbone.out_channels[-1])
    assert any("lora_A" in name for name, _ in backbone.named_parameters())


def test_registered_full_model_builds_by_name():
    model = FULL_MODEL_REGISTRY.build(
        "axion_terramind_v1_tiny_residual_grounding", pretrained=False, decoder_channels=8
    )
    image = {"S1GRD": torch.randn(1, 2, 32, 32) - 12, "S2L2A": torch.rand(1, 4, 32, 32) * 0.2}
    assert torch.equal(model(image), image["S2L2A"])


def test_unknown_lora_key_is_refused():
    with pytest.raises(TypeError, match="rnk"):
        BACKBONE_REGISTRY.build("axion_terramind_v1_tiny_lora", pretrained=False, lora={"rnk": 4})
