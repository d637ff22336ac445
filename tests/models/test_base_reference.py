"""The frozen base a trained-only checkpoint names can be rebuilt, and a base that cannot stays in it."""

import pytest
import torch
from torch import nn

from axion_terratorch.init_config import init_config
from axion_terratorch.models import TerraMindResidualGrounding
from axion_terratorch.models.base_reference import (
    CHECKPOINT_KEY,
    BaseReference,
    base_buffers,
    base_buffers_hash,
    frozen_hash,
    rebuild,
    reference_of,
    save_trained_only,
)

BANDS = ("B02", "B03", "B04", "B08")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return TerraMindResidualGrounding(variant="tiny", pretrained=False, bands=BANDS, decoder_channels=4)


def test_random_base_is_rebuilt_from_the_recorded_random_state(model):
    reference = reference_of(model)
    assert isinstance(reference, BaseReference)
    assert reference.variant == "tiny"
    rebuilt = rebuild(init_config(model), reference.rng_state)
    assert frozen_hash(rebuilt) == reference.sha256
    torch.manual_seed(4)
    assert frozen_hash(TerraMindResidualGrounding(**init_config(model)["init_args"])) != reference.sha256


def test_hash_follows_a_change_of_a_frozen_weight(model):
    other = rebuild(init_config(model), reference_of(model).rng_state)
    before = frozen_hash(other)
    frozen = next(p for p in other.parameters() if not p.requires_grad)
    with torch.no_grad():
        frozen.add_(1.0)
    assert frozen_hash(other) != before


def test_base_buffers_are_the_frozen_layers_buffers(model):
    buffers = base_buffers(model)
    assert any(key.endswith(".pos_emb") for key in buffers)  # sin-cos position embeddings
    assert all(key.startswith("backbone.encoder.") for key in buffers)
    # layers without parameters, and the model's own marker, are not part of the base
    assert "preserves_radiometry" not in buffers
    assert not any(key.startswith("standardizer.") for key in buffers)


def test_running_statistics_of_a_frozen_norm_are_not_base_buffers():
    layers = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2), nn.LayerNorm(2, bias=False))
    layers.requires_grad_(False)
    layers[2].register_buffer("shift", torch.zeros(2))
    assert list(base_buffers(layers)) == ["2.shift"]


def test_buffers_hash_follows_a_change_of_a_base_buffer(model):
    other = rebuild(init_config(model), reference_of(model).rng_state)
    assert base_buffers_hash(other) == reference_of(model).buffers_sha256
    with torch.no_grad():
        next(iter(base_buffers(other).values())).add_(1.0)
    assert base_buffers_hash(other) != reference_of(model).buffers_sha256


def test_model_that_cannot_be_rebuilt_is_saved_whole():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].requires_grad_(False)
    checkpoint = {"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}
    reason = save_trained_only(checkpoint, model, None, "model.")
    assert "records no config" in reason
    assert len(checkpoint["state_dict"]) == 4
    assert CHECKPOINT_KEY not in checkpoint
