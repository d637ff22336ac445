"""Pretrained TerraMind weights: where they come from, and what a model without them can learn.

terratorch downloads TerraMind's weights from the Hugging Face hub when a model is built with
``pretrained=True``. Offline (HPC compute nodes, air-gapped machines) that fails deep inside
``huggingface_hub`` with a long chained traceback; :func:`pretrained_download` turns it into one
message naming the weights, their hub repository, the local-file alternative and ``pretrained: false``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from huggingface_hub.errors import HfHubHTTPError
from terratorch.models.backbones.terramind.model.terramind_register import (
    pretrained_weights as BACKBONE_WEIGHTS,
)
from terratorch.models.backbones.terramind.tokenizer.tokenizer_backbones_register import (
    pretrained_weights as TOKENIZER_WEIGHTS,
)
from torch import nn

#: Tokenizer of the generative model's S2L2A output in terratorch's table.
S2L2A_TOKENIZER = "terramind_v1_tokenizer_s2l2a"


class PretrainedWeightsError(OSError):
    """TerraMind's pretrained weights could not be fetched; the message says how to proceed."""


def hub_source(name: str) -> str:
    """``https://huggingface.co/<repo>`` (file ``<file>``) of a terratorch TerraMind weight name."""
    entry = BACKBONE_WEIGHTS.get(name) or TOKENIZER_WEIGHTS.get(name)
    if entry is None:
        return f"the Hugging Face hub ({name})"
    return f"https://huggingface.co/{entry['hf_hub_id']} (file {entry['hf_hub_filename']})"


@contextlib.contextmanager
def pretrained_download(names: list[str], key: str = "model.init_args.model.init_args") -> Iterator[None]:
    """Re-raise a failed hub download of ``names`` as one :class:`PretrainedWeightsError`.

    Args:
        names: terratorch's names of the weights being fetched (``terramind_v1_base``, ...).
        key: Config path of the model's arguments, named in the message.
    """
    try:
        yield
    except (OSError, HfHubHTTPError) as error:
        if isinstance(error, PretrainedWeightsError):
            raise
        sources = "; ".join(f"{name} from {hub_source(name)}" for name in names)
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        msg = (
            f"cannot download TerraMind's pretrained weights ({cause}). Needed: {sources}. "
            f"Offline: download the file elsewhere and set {key}.ckpt_path to it, or train from random "
            f"weights with {key}.pretrained: false (or pre-fill the Hugging Face cache, HF_HOME)."
        )
        raise PretrainedWeightsError(msg) from None


def zero_decoder_layers(decoder: nn.Module) -> list[nn.Module]:
    """Convolutions of the tokenizer's diffusion decoder whose weights are all zero.

    terratorch initialises the UNet's output convolution (and each block's last layer) to zero, as
    diffusion models do; trained weights replace them. Built with ``pretrained=False`` and no
    tokenizer in ``ckpt_path`` they stay zero: the decoded image is identically 0 and no gradient
    reaches anything before it, LoRA adapters included.
    """
    return [
        m
        for m in decoder.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d) and not m.weight.is_meta and not m.weight.any()
    ]


def warn_if_untrainable(decoder: nn.Module) -> None:
    """Warn when the decoder's output layer is zero: training such a model changes nothing."""
    out = getattr(decoder, "out", None)
    layer = out[-1] if isinstance(out, nn.Sequential) else None
    if layer is not None and not layer.weight.is_meta and not layer.weight.any():
        warnings.warn(
            "TerraMind's S2L2A tokenizer decoder has zero output weights (pretrained: false without a "
            "tokenizer in ckpt_path): its output is identically 0 and no gradient reaches the LoRA "
            "adapters, so training learns nothing. Load the weights (pretrained: true or ckpt_path), or "
            "set stand_in_decoder: true to give those layers small random weights (tests, smoke runs).",
            UserWarning,
            stacklevel=3,
        )


def fill_stand_in_weights(decoder: nn.Module, std: float = 0.02, seed: int = 0) -> int:
    """Give the zero-initialised decoder layers small seeded random weights; return their count.

    A stand-in for trained weights, for tests and smoke runs of ``pretrained=False`` models: it makes
    the decoder's output non-zero, so gradients reach the adapters. The weights are part of the state
    dict like any other, so a checkpoint reloads them.
    """
    generator = torch.Generator().manual_seed(seed)
    layers = zero_decoder_layers(decoder)
    with torch.no_grad():
        for layer in layers:
            noise = torch.randn(layer.weight.shape, generator=generator) * std
            layer.weight.copy_(noise.to(layer.weight.dtype))
    return len(layers)
