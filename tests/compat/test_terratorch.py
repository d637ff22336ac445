"""Each terratorch internal the package reads, called against the installed terratorch."""

import re

import pytest
import torch
from torch import nn

from axion_terratorch.compat import CHECKED, CompatError, installed
from axion_terratorch.compat import terratorch as tt
from axion_terratorch.models.hub import S2L2A_TOKENIZER
from axion_terratorch.models.terramind_generation import TARGET_MODALITY

#: Every function reading an attribute of a TerraMind generation model (or its parts), with the
#: upstream name its message must give when the attribute is gone.
GENERATION_READERS = {
    "TerraMindGeneration.sampler.model": lambda m: tt.transformer(m),
    "TerraMindGeneration.tokenizer": lambda m: tt.modality_tokenizer(m, TARGET_MODALITY),
    "TerraMindGeneration.mod_name_mapping": lambda m: tt.modality_name(m, "S1GRD"),
    "TerraMindGeneration.sampler.forward_mask_encoder_generation": lambda m: tt.mask_encoder_generation(
        m, {}
    ),
    "DiVAE.quantize.codebook": tt.codebook,
    "DiVAE.decoder": tt.diffusion_decoder,
    "DiVAE.noise_scheduler": tt.noise_scheduler,
    "DiVAE.patch_size": tt.token_layout,
    "UNet.out": tt.decoder_output_layer,
}


@pytest.mark.parametrize("expected", list(GENERATION_READERS))
def test_a_moved_attribute_is_named(expected):
    with pytest.raises(CompatError, match=re.escape(f"expected `{expected}`")) as error:
        GENERATION_READERS[expected](nn.Module())
    assert f"terratorch {installed('terratorch')}" in str(error.value)
    assert f"checked with terratorch {CHECKED['terratorch']}" in str(error.value)


def test_a_moved_registry_key_is_named():
    class Generation(nn.Module):
        mod_name_mapping = {"S2L2A": "untok_sen2l2a@224"}  # noqa: RUF012

    with pytest.raises(CompatError, match=r"mod_name_mapping\['S1GRD'\] \(has \['S2L2A'\]\)"):
        tt.modality_name(Generation(), "S1GRD")


def test_registering_keeps_the_first_builder_and_builds_it():
    def axion_compat_probe_backbone(**kwargs):
        return nn.Identity()

    def axion_compat_probe_full_model(**kwargs):
        return nn.Flatten()

    def other(**kwargs):
        return nn.ReLU()

    other.__name__ = "axion_compat_probe_backbone"
    assert tt.register_backbone(axion_compat_probe_backbone) in (True, False)  # False on a rerun in-process
    assert tt.register_backbone(other) is False
    assert isinstance(tt.build_backbone("axion_compat_probe_backbone"), nn.Identity)
    tt.register_full_model(axion_compat_probe_full_model)
    assert isinstance(tt.build_full_model("axion_compat_probe_full_model"), nn.Flatten)


def test_hub_file_names_the_repository_of_transformer_and_tokenizer_weights():
    for name in ("terramind_v1_base", S2L2A_TOKENIZER):
        repo, filename = tt.hub_file(name)
        assert "/" in repo, (name, repo)
        assert filename.endswith((".pt", ".safetensors")), (name, filename)
    assert tt.hub_file("no_such_weights") is None


@pytest.fixture(scope="module")
def generation() -> nn.Module:
    torch.manual_seed(0)
    return tt.build_full_model(
        "terramind_v1_tiny_generate",
        modalities=["S1GRD", "S2L2A"],
        output_modalities=["S2L2A"],
        pretrained=False,
        standardize=False,
        timesteps=2,
    )


@pytest.mark.slow
def test_the_transformer_pass_predicts_every_target_token(generation):
    batch, side, patch = 2, 32, 16
    num_tokens = (side // patch) ** 2
    inputs = {}
    for key, channels in (("S1GRD", 2), ("S2L2A", 12)):
        name = tt.modality_name(generation, key)
        mask = torch.zeros(batch, num_tokens, dtype=torch.bool)
        inputs[name] = tt.embed_input(generation, name, torch.randn(batch, channels, side, side), mask)
    with torch.no_grad():
        tokens, emb, mask = tt.mask_encoder_generation(generation, inputs)
        context = tt.encode_context(generation, tokens, emb, mask)
        queries = tt.mask_queries(generation, TARGET_MODALITY, batch, num_tokens, torch.device("cpu"))
        logits = tt.decode_logits(generation, TARGET_MODALITY, queries, context, mask)
    tokenizer = tt.modality_tokenizer(generation, TARGET_MODALITY)
    codes = tt.codebook(tokenizer)
    assert logits.shape == (batch, num_tokens, codes.shape[0])
    assert codes.ndim == 2
    assert 0 <= codes.min() <= codes.max() <= 1


@pytest.mark.slow
def test_the_tokenizer_parts(generation):
    tokenizer = tt.modality_tokenizer(generation, TARGET_MODALITY)
    assert type(tt.build_tokenizer(TARGET_MODALITY, pretrained=False)) is type(tokenizer)
    patch_size, channels = tt.token_layout(tokenizer)
    assert (patch_size, channels) == (16, 12)  # TerraMind's S2L2A: 16 px tokens, 12 bands
    decoder = tt.diffusion_decoder(tokenizer)
    assert not tt.decoder_output_layer(decoder).weight.any()  # zero-initialised without pretrained weights
    assert tt.noise_scheduler(tokenizer).config.num_train_timesteps > 0


@pytest.mark.slow
def test_state_dict_prefixes_and_lora_targets_match_the_model(generation):
    keys = list(generation.state_dict())
    assert any(key.startswith(tt.TRANSFORMER_PREFIX) for key in keys)
    assert any(key.startswith(tt.TOKENIZER_PREFIX) for key in keys)
    assert all(key.startswith((tt.TRANSFORMER_PREFIX, tt.TOKENIZER_PREFIX)) for key in keys)
    linear = [name for name, m in generation.named_modules() if isinstance(m, nn.Linear)]
    assert any(re.fullmatch(tt.DECODER_CROSS_ATTENTION, name) for name in linear)


def test_terratorch_predicts_batch_writer_is_recognised():
    from terratorch.cli_tools import CustomWriter

    from axion_terratorch.callbacks import SceneWriter

    assert tt.is_batch_writer(CustomWriter(write_interval="batch"))
    assert not tt.is_batch_writer(SceneWriter("out"))
