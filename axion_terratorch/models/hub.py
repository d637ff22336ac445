"""Pretrained TerraMind weights: where they come from, and what a model without them can learn.

terratorch downloads TerraMind's weights from the Hugging Face hub when a model is built with
``pretrained=True``. Offline (HPC compute nodes, air-gapped machines) that fails deep inside
``huggingface_hub`` with a long chained traceback, after five retries; :func:`pretrained_download`
checks first whether the files are in the Hugging Face cache or the hub can be reached at all, and
turns a failure into one message naming the weights, their hub repository, the local-file
alternative and ``pretrained: false``. The message is also logged at ERROR level as it is raised, so
it is the first line a run prints even when a framework wraps the exception in a long report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError
from torch import nn

from axion_terratorch.compat.terratorch import decoder_output_layer, hub_file

logger = logging.getLogger(__name__)

#: Tokenizer of the generative model's S2L2A output in terratorch's table.
S2L2A_TOKENIZER = "terramind_v1_tokenizer_s2l2a"
#: Seconds the reachability probe of the hub waits for a connection.
PROBE_TIMEOUT = 3.0


class PretrainedWeightsError(OSError):
    """TerraMind's pretrained weights could not be fetched; the message says how to proceed."""


def hub_source(name: str) -> str:
    """``https://huggingface.co/<repo>`` (file ``<file>``) of a terratorch TerraMind weight name."""
    entry = hub_file(name)
    if entry is None:
        return f"the Hugging Face hub ({name})"
    repo, filename = entry
    return f"https://huggingface.co/{repo} (file {filename})"


def is_cached(name: str) -> bool:
    """Whether the hub file of terratorch's weight ``name`` is in the Hugging Face cache (no network)."""
    entry = hub_file(name)
    return entry is not None and isinstance(try_to_load_from_cache(*entry), str)


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached from here, or ``None`` when it may be.

    ``HF_HUB_OFFLINE`` answers at once; otherwise one TCP connection to the hub's host is tried for at
    most :data:`PROBE_TIMEOUT` s (a name that does not resolve fails at once). With a proxy
    configured (``HTTPS_PROXY``, ...) the hub is assumed reachable: only the download can tell.
    """
    if hf_constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in {
        "1",
        "ON",
        "YES",
        "TRUE",
    }:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlparse(hf_constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
    except OSError as error:
        return f"{host} cannot be reached: {error.strerror or error}"
    return None


def weights_message(names: list[str], cause: str, key: str = "model.init_args.model.init_args") -> str:
    """One line naming the weights ``names`` that cannot be had, why, and the ways around it."""
    sources = "; ".join(f"{name} from {hub_source(name)}" for name in names)
    return (
        f"cannot download TerraMind's pretrained weights ({cause}). Needed: {sources}. "
        f"Offline: download the file elsewhere and set {key}.ckpt_path to it, or train from random "
        f"weights with {key}.pretrained: false (or pre-fill the Hugging Face cache, HF_HOME)."
    )


def weights_error(
    names: list[str], cause: str, key: str = "model.init_args.model.init_args"
) -> PretrainedWeightsError:
    """The :class:`PretrainedWeightsError` for ``names`` that cannot be had, logged at ERROR level."""
    msg = weights_message(names, cause, key)
    logger.error(msg)
    return PretrainedWeightsError(msg)


@contextlib.contextmanager
def pretrained_download(
    names: list[str], key: str = "model.init_args.model.init_args", pretrained: bool = True
) -> Iterator[None]:
    """Check that ``names`` can be had, then re-raise a failed hub download as one :class:`PretrainedWeightsError`.

    With ``pretrained``, files missing from the Hugging Face cache while the hub cannot be reached
    (:func:`hub_unreachable`) are refused before anything is built, instead of after the hub
    client's retries.

    Args:
        names: terratorch's names of the weights being fetched (``terramind_v1_base``, ...).
        key: Config path of the model's arguments, named in the message.
        pretrained: Whether the block downloads ``names`` (``False``: only wrap errors).
    """
    from axion_terratorch.missing_inputs import check_cli_run

    check_cli_run()  # under terratorch's CLI: the data folders too, before anything is built
    missing = [name for name in names if not is_cached(name)] if pretrained else []
    reason = hub_unreachable() if missing else None
    if reason is not None:
        raise weights_error(missing, f"not in the Hugging Face cache and {reason}", key) from None
    try:
        yield
    except (OSError, HfHubHTTPError) as error:
        if isinstance(error, PretrainedWeightsError):
            raise
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise weights_error(names, cause, key) from None


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
    layer = decoder_output_layer(decoder)
    if not layer.weight.is_meta and not layer.weight.any():
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
