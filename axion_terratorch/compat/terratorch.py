"""terratorch internals: model registries and the insides of TerraMind v1 generation.

Checked with terratorch 1.2.11. Upstream paths are relative to ``terratorch/``; ``TerraMindGeneration``
is ``models/backbones/terramind/model/terramind_generation.py``, its transformer (``TerraMind``) is
``models/backbones/terramind/model/terramind.py`` and its tokenizers (``DiVAE``) are
``models/backbones/terramind/tokenizer/vqvae.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import terratorch.registry
import torch
from torch import Tensor, nn

from axion_terratorch.compat import attribute, item, module, moved

LIBRARY = "terratorch"
_TERRAMIND = "terratorch.models.backbones.terramind"
_REGISTERS = {
    "backbone": f"{_TERRAMIND}.model.terramind_register",
    "tokenizer": f"{_TERRAMIND}.tokenizer.tokenizer_backbones_register",
}

#: Prefix of the transformer's weights in a ``TerraMindGeneration`` state dict
#: (``TerraMindGeneration.sampler`` is a ``GenerationSampler`` holding the transformer as ``model``).
TRANSFORMER_PREFIX = "sampler.model."
#: Prefix of the tokenizers' weights in a ``TerraMindGeneration`` state dict (``tokenizer`` ModuleDict).
TOKENIZER_PREFIX = "tokenizer."
#: The cross-attention linears of the transformer's decoder blocks, by ``TerraMindGeneration`` module
#: name (``TerraMind.decoder[i].cross_attn.{q,kv,proj}``).
DECODER_CROSS_ATTENTION = r"sampler\.model\.decoder\.\d+\.cross_attn\.(q|kv|proj)"


def _registry(name: str) -> Any:
    return attribute(LIBRARY, terratorch.registry, name, "terratorch.registry")


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    """``BACKBONE_REGISTRY.build(name, **kwargs)`` (``registry/__init__.py``; terratorch 1.2.11)."""
    return _registry("BACKBONE_REGISTRY").build(name, **kwargs)


def build_full_model(name: str, **kwargs: Any) -> nn.Module:
    """``FULL_MODEL_REGISTRY.build(name, **kwargs)`` (``registry/__init__.py``; terratorch 1.2.11)."""
    return _registry("FULL_MODEL_REGISTRY").build(name, **kwargs)


def _register(registry: str, builder: Callable[..., nn.Module]) -> bool:
    target = _registry(registry)
    # terratorch's Registry.register keys on __name__ and silently overwrites: keep the first one.
    if builder.__name__ in target:
        return False
    target.register(builder)
    return True


def register_backbone(builder: Callable[..., nn.Module]) -> bool:
    """Add ``builder`` to ``TERRATORCH_BACKBONE_REGISTRY`` under its ``__name__`` unless taken.

    Reads ``registry/__init__.py`` (the ``terratorch`` source of ``BACKBONE_REGISTRY``; terratorch
    1.2.11). Returns whether it was added.
    """
    return _register("TERRATORCH_BACKBONE_REGISTRY", builder)


def register_full_model(builder: Callable[..., nn.Module]) -> bool:
    """Add ``builder`` to ``TERRATORCH_FULL_MODEL_REGISTRY`` under its ``__name__`` unless taken.

    Reads ``registry/__init__.py`` (the ``terratorch`` source of ``FULL_MODEL_REGISTRY``; terratorch
    1.2.11). Returns whether it was added.
    """
    return _register("TERRATORCH_FULL_MODEL_REGISTRY", builder)


def hub_file(name: str) -> tuple[str, str] | None:
    """``(hf_hub_id, hf_hub_filename)`` of TerraMind weights ``name``, ``None`` if terratorch has none.

    Reads the ``pretrained_weights`` tables of ``models/backbones/terramind/model/terramind_register.py``
    and ``.../tokenizer/tokenizer_backbones_register.py`` (terratorch 1.2.11).
    """
    for register in _REGISTERS.values():
        table = attribute(LIBRARY, module(LIBRARY, register), "pretrained_weights", register)
        if name in table:
            entry = table[name]
            expected = f"{register}.pretrained_weights[{name!r}]"
            return item(LIBRARY, entry, "hf_hub_id", expected), item(
                LIBRARY, entry, "hf_hub_filename", expected
            )
    return None


def build_tokenizer(modality: str, pretrained: bool) -> nn.Module:
    """TerraMind v1 tokenizer of ``modality`` (e.g. ``tok_sen2l2a@224``), terratorch's ``DiVAE``.

    Reads ``tokenizer_dict["v1"][modality]`` of ``models/backbones/terramind/model/terramind_register.py``
    (terratorch 1.2.11).
    """
    register = _REGISTERS["backbone"]
    table = attribute(LIBRARY, module(LIBRARY, register), "tokenizer_dict", register)
    versions = item(LIBRARY, table, "v1", f"{register}.tokenizer_dict")
    return item(LIBRARY, versions, modality, f"{register}.tokenizer_dict['v1']")(pretrained=pretrained)


def transformer(generation: nn.Module) -> nn.Module:
    """The transformer (``TerraMind``) of a ``TerraMindGeneration``: ``sampler.model`` (terratorch 1.2.11)."""
    return attribute(LIBRARY, generation, "sampler.model", "TerraMindGeneration")


def modality_tokenizer(generation: nn.Module, modality: str) -> nn.Module:
    """``TerraMindGeneration.tokenizer[modality]``, the ``DiVAE`` of a modality (terratorch 1.2.11)."""
    tokenizers = attribute(LIBRARY, generation, "tokenizer", "TerraMindGeneration")
    return item(LIBRARY, tokenizers, modality, "TerraMindGeneration.tokenizer")


def modality_name(generation: nn.Module, key: str) -> str:
    """TerraMind's internal name of input ``key`` (``S1GRD`` -> ``untok_sen1grd@224``).

    Reads ``TerraMindGeneration.mod_name_mapping`` (terratorch 1.2.11).
    """
    mapping = attribute(LIBRARY, generation, "mod_name_mapping", "TerraMindGeneration")
    return item(LIBRARY, mapping, key, "TerraMindGeneration.mod_name_mapping")


def embed_input(generation: nn.Module, name: str, tensor: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Embed one input modality: ``TerraMind.encoder_embeddings[name]({"tensor", "input_mask"})``.

    Reads ``TerraMind.encoder_embeddings`` and its ``ImageEncoderEmbedding`` input keys
    (``model/encoder_embeddings.py``; terratorch 1.2.11).
    """
    embeddings = attribute(LIBRARY, transformer(generation), "encoder_embeddings", "TerraMind")
    embed = item(LIBRARY, embeddings, name, "TerraMind.encoder_embeddings")
    return embed({"tensor": tensor, "input_mask": mask})


def mask_encoder_generation(generation: nn.Module, inputs: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
    """``(tokens, emb, mask)`` of the encoder for embedded ``inputs``.

    Reads ``GenerationSampler.forward_mask_encoder_generation`` (``model/generate.py``; terratorch
    1.2.11), which returns four values; the fourth (the modality spans) is dropped.
    """
    method = attribute(LIBRARY, generation, "sampler.forward_mask_encoder_generation", "TerraMindGeneration")
    result = method(inputs)
    if not isinstance(result, tuple) or len(result) != 4:
        raise moved(LIBRARY, "GenerationSampler.forward_mask_encoder_generation returning 4 values")
    tokens, emb, mask, _ = result
    return tokens, emb, mask


def encode_context(generation: nn.Module, tokens: Tensor, emb: Tensor, mask: Tensor) -> Tensor:
    """The decoder's cross-attention context: ``decoder_proj_context(forward_encoder(tokens + emb)) + emb``.

    Reads ``TerraMind.forward_encoder`` and ``TerraMind.decoder_proj_context``, the steps of
    ``TerraMind.forward`` (``model/terramind.py``; terratorch 1.2.11).
    """
    model = transformer(generation)
    encoded = attribute(LIBRARY, model, "forward_encoder", "TerraMind")(tokens + emb, mask)
    return attribute(LIBRARY, model, "decoder_proj_context", "TerraMind")(encoded) + emb


def _decoder_embedding(generation: nn.Module, modality: str) -> nn.Module:
    embeddings = attribute(LIBRARY, transformer(generation), "decoder_embeddings", "TerraMind")
    return item(LIBRARY, embeddings, modality, "TerraMind.decoder_embeddings")


def mask_queries(
    generation: nn.Module, modality: str, batch: int, num_tokens: int, device: torch.device
) -> Tensor:
    """Decoder queries for every token of ``modality``: the mask token plus the position embedding.

    Reads ``TerraMind.decoder_embeddings[modality].forward_embed`` (``model/decoder_embeddings.py``,
    its ``x`` / ``emb`` outputs) and ``TerraMind.mask_token`` (terratorch 1.2.11).
    """
    embed = attribute(
        LIBRARY, _decoder_embedding(generation, modality), "forward_embed", "ImageTokenDecoderEmbedding"
    )
    target = embed({"tensor": torch.zeros(batch, num_tokens, dtype=torch.long, device=device)})
    x = item(LIBRARY, target, "x", "ImageTokenDecoderEmbedding.forward_embed()")
    pos = item(LIBRARY, target, "emb", "ImageTokenDecoderEmbedding.forward_embed()")
    return torch.zeros_like(x) + attribute(LIBRARY, transformer(generation), "mask_token", "TerraMind") + pos


def decode_logits(
    generation: nn.Module, modality: str, queries: Tensor, context: Tensor, mask: Tensor
) -> Tensor:
    """``(B, N, V)`` token logits of ``modality``: ``forward_decoder`` then ``forward_logits``.

    Reads ``TerraMind.forward_decoder`` (``model/terramind.py``) and
    ``TerraMind.decoder_embeddings[modality].forward_logits`` (``model/decoder_embeddings.py``;
    terratorch 1.2.11).
    """
    decoder = attribute(LIBRARY, transformer(generation), "forward_decoder", "TerraMind")
    decoded = decoder(queries, context, mask, None)
    logits = attribute(
        LIBRARY, _decoder_embedding(generation, modality), "forward_logits", "ImageTokenDecoderEmbedding"
    )
    return logits(decoded)


def codebook(tokenizer: nn.Module) -> Tensor:
    """``(V, D)`` code of every token: ``DiVAE.quantize.codebook`` of the FSQ quantizer.

    Reads ``tokenizer/quantizers/quantize_finite_scalar.py`` (``FiniteScalarQuantizer.codebook``
    buffer; terratorch 1.2.11).
    """
    return attribute(LIBRARY, tokenizer, "quantize.codebook", "DiVAE")


def diffusion_decoder(tokenizer: nn.Module) -> nn.Module:
    """The tokenizer's diffusion UNet, ``DiVAE.decoder`` (``tokenizer/vqvae.py``; terratorch 1.2.11)."""
    return attribute(LIBRARY, tokenizer, "decoder", "DiVAE")


def noise_scheduler(tokenizer: nn.Module) -> Any:
    """The tokenizer's ``DDIMScheduler``, ``DiVAE.noise_scheduler`` (``tokenizer/vqvae.py``; terratorch 1.2.11)."""
    return attribute(LIBRARY, tokenizer, "noise_scheduler", "DiVAE")


def token_layout(tokenizer: nn.Module) -> tuple[int, int]:
    """``(patch_size, n_channels)`` of a tokenizer: pixels per token side and image channels.

    Reads ``DiVAE.patch_size`` and ``DiVAE.n_channels`` (``tokenizer/vqvae.py``; terratorch 1.2.11).
    """
    return (
        attribute(LIBRARY, tokenizer, "patch_size", "DiVAE"),
        attribute(LIBRARY, tokenizer, "n_channels", "DiVAE"),
    )


def decoder_output_layer(decoder: nn.Module) -> nn.Module:
    """The last (zero-initialised) convolution of a tokenizer's UNet: ``decoder.out[-1]``.

    Reads ``UNet.out`` (``tokenizer/models/unet/unet.py``: ``nn.Sequential(norm, SiLU, conv)``;
    terratorch 1.2.11).
    """
    out = attribute(LIBRARY, decoder, "out", "UNet")
    if not isinstance(out, nn.Sequential) or not hasattr(out[-1], "weight"):
        raise moved(LIBRARY, "UNet.out as nn.Sequential ending in a convolution")
    return out[-1]


def is_batch_writer(callback: object) -> bool:
    """Whether ``callback`` is terratorch's ``CustomWriter``, which ``terratorch predict`` always adds
    (one ``.pt`` file per batch).

    Reads ``CustomWriter`` of ``cli_tools.py`` (terratorch 1.2.11: the default ``trainer.callbacks`` of
    ``build_lightning_cli``).
    """
    writer = attribute(
        LIBRARY, module(LIBRARY, "terratorch.cli_tools"), "CustomWriter", "terratorch.cli_tools"
    )
    return isinstance(callback, writer)
