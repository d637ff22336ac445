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


def test_terratorch_peft_config_route_adapts_the_same_layers_as_the_registered_backbone():
    """docs/plugin.md: terratorch's own ``peft_config`` with the documented regex gives our backbone's adapters."""
    from terratorch.models import EncoderDecoderFactory

    regex = r".*encoder\.\d+\.attn\.(qkv|proj)"
    with pytest.warns(UserWarning, match="PEFT without a pretrained backbone"):
        stock = EncoderDecoderFactory().build_model(
            task="segmentation",
            backbone="terramind_v1_tiny",
            backbone_pretrained=False,
            backbone_modalities=["S2L2A", "S1GRD"],
            necks=[{"name": "SelectIndices", "indices": [11]}, {"name": "ReshapeTokensToImage"}],
            decoder="IdentityDecoder",
            num_classes=2,
            peft_config={
                "method": "LORA",
                "peft_config_kwargs": {"r": 8, "lora_alpha": 16, "target_modules": regex},
            },
        )
    ours = BACKBONE_REGISTRY.build(
        "axion_terramind_v1_tiny_lora", pretrained=False, lora={"rank": 8, "alpha": 16}
    )

    def adapted(module: torch.nn.Module) -> set[str]:
        names = (n for n, p in module.named_parameters() if p.requires_grad and "lora_" in n)
        return {n[n.rindex("encoder.") :] for n in names}

    assert adapted(stock.encoder) == adapted(ours)
    assert sum(p.numel() for p in stock.encoder.parameters() if p.requires_grad) == 110_592
