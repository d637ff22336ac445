"""Build terratorch's TerraMind v1 generation model (S1GRD + S2L2A -> S2L2A) and load its weights."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from axion_terratorch.compat.terratorch import (
    TOKENIZER_PREFIX,
    TRANSFORMER_PREFIX,
    build_full_model,
    build_tokenizer,
    modality_tokenizer,
)
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.models.hub import S2L2A_TOKENIZER, pretrained_download

logger = logging.getLogger(__name__)

#: TerraMind's name of the tokenized S2L2A output modality.
TARGET_MODALITY = "tok_sen2l2a@224"


def build_generation(
    variant: str, pretrained: bool, ckpt_path: str | os.PathLike[str] | None, timesteps: int
) -> nn.Module:
    """Build ``terramind_v1_<variant>_generate`` with S1GRD and S2L2A in, S2L2A out, unstandardised.

    Weights: with ``ckpt_path`` the transformer (and the tokenizer, if the file has it) comes from
    that file (:func:`load_checkpoint`), and the S2L2A tokenizer from the Hugging Face hub when
    ``pretrained`` and the file lacks it; without ``ckpt_path``, ``pretrained`` downloads both through
    terratorch. terratorch's own ``ckpt_path`` handling is not used: it loads with ``strict=False``
    and so silently loads nothing from the hub file's layout.

    Args:
        variant: ``tiny``, ``small``, ``base`` or ``large``.
        pretrained: Download pretrained weights (see above).
        ckpt_path: Local checkpoint, or ``None``.
        timesteps: terratorch's default number of diffusion steps (unused by the differentiable path).

    Returns:
        terratorch's ``TerraMindGeneration``.
    """
    with pretrained_download(
        [f"terramind_v1_{variant}", S2L2A_TOKENIZER], pretrained=pretrained and ckpt_path is None
    ):
        generation = build_full_model(
            f"terramind_v1_{variant}_generate",
            modalities=[SAR_KEY, OPTICAL_KEY],
            output_modalities=[OPTICAL_KEY],
            pretrained=pretrained and ckpt_path is None,
            standardize=False,
            timesteps=timesteps,
        )
    if ckpt_path is not None and not load_checkpoint(generation, ckpt_path) and pretrained:
        with pretrained_download([S2L2A_TOKENIZER]):
            hub = build_tokenizer(TARGET_MODALITY, pretrained=True)
        modality_tokenizer(generation, TARGET_MODALITY).load_state_dict(hub.state_dict())
    return generation


def load_checkpoint(generation: nn.Module, path: str | os.PathLike[str]) -> bool:
    """Load a local TerraMind checkpoint into a ``TerraMindGeneration``.

    Two layouts are accepted: the hub file of the transformer (TerraMind keys such as
    ``encoder.0.attn.qkv.weight``, e.g. ``TerraMind_v1_base.pt``; keys of modalities the model does
    not use are skipped) and a ``TerraMindGeneration`` state dict (``sampler.model.`` and, optionally,
    ``tokenizer.`` keys). Tensors whose shape differs from the model's are skipped with a warning.

    Args:
        generation: terratorch's ``TerraMindGeneration`` (before LoRA is applied).
        path: The checkpoint file.

    Returns:
        Whether the file also held tokenizer weights.

    Raises:
        FileNotFoundError: If the file does not exist (message names ``ckpt_path``).
        ValueError: If no transformer weight of the model is in the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"checkpoint not found: {path} (model.init_args.ckpt_path)"
        raise FileNotFoundError(msg)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not any(key.startswith((TRANSFORMER_PREFIX, TOKENIZER_PREFIX)) for key in state):
        state = {TRANSFORMER_PREFIX + key: value for key, value in state.items()}
    own = generation.state_dict()
    loadable = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
    mismatched = sorted(key for key in state if key in own and key not in loadable)
    transformer = [key for key in own if key.startswith(TRANSFORMER_PREFIX)]
    missing = [key for key in transformer if key not in loadable]
    if len(missing) == len(transformer):
        msg = (
            f"ckpt_path {str(path)!r} holds no weight of this TerraMind generation transformer "
            f"({len(state)} keys, e.g. {sorted(state)[:3]}); expected e.g. {transformer[:3]}"
        )
        raise ValueError(msg)
    generation.load_state_dict(loadable, strict=False)
    if mismatched:
        logger.warning(
            "ckpt_path %s: skipped %d tensors of another shape: %s", path, len(mismatched), mismatched
        )
    if missing:
        logger.warning(
            "ckpt_path %s: %d transformer weights missing, kept as built: %s", path, len(missing), missing
        )
    has_tokenizer = any(key.startswith(TOKENIZER_PREFIX) for key in loadable)
    logger.info(
        "loaded %d tensors from %s (%s tokenizer weights)",
        len(loadable),
        path,
        "with" if has_tokenizer else "no",
    )
    return has_tokenizer
