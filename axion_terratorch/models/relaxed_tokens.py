"""Token logits -> continuous FSQ codes: the differentiable stand-in for token sampling."""

from __future__ import annotations

import logging
from typing import Literal, get_args

import torch
from torch import Tensor

from axion_terratorch.argument_bounds import check_positive

logger = logging.getLogger(__name__)

#: How logits become codes: the softmax expectation (``"soft"``), the argmax code with the soft
#: gradient (``"straight_through"``), or the argmax code alone (``"hard"``, no gradient).
Relaxation = Literal["soft", "straight_through", "hard"]
RELAXATIONS: tuple[Relaxation, ...] = get_args(Relaxation)


def check_relaxation(relaxation: str, temperature: float) -> None:
    """Raise ``ValueError`` naming ``relaxation`` or ``temperature`` if either is invalid."""
    if relaxation not in RELAXATIONS:
        msg = f"relaxation must be one of {list(RELAXATIONS)}, got {relaxation!r}"
        raise ValueError(msg)
    check_positive({"temperature": temperature})


def relax_tokens(
    logits: Tensor, codebook: Tensor, relaxation: Relaxation = "soft", temperature: float = 1.0
) -> Tensor:
    """Turn token logits into quantiser codes.

    ``soft`` returns ``softmax(logits / temperature) @ codebook``, the expected code under the
    predicted token distribution: a point inside the FSQ grid's hull, differentiable in the logits.
    ``hard`` returns ``codebook[argmax(logits)]``, the code of the most likely token (what
    ``tokenizer.decode_tokens`` receives for argmax tokens). ``straight_through`` returns the hard
    code in the forward pass and the soft code's gradient in the backward pass.

    Args:
        logits: ``(..., V)`` token logits, ``V`` = codebook size (15360 for the S2L2A tokenizer).
        codebook: ``(V, D)`` code of every token (FSQ levels scaled to [0, 1]; ``D`` = 5).
        relaxation: ``"soft"``, ``"straight_through"`` or ``"hard"``.
        temperature: Softmax temperature (> 0); lower is closer to the hard code.

    Returns:
        ``(..., D)`` codes, in ``codebook``'s dtype.

    Raises:
        ValueError: If ``relaxation`` is unknown, ``temperature`` is not positive or the last
            dimension of ``logits`` differs from the codebook size.
    """
    check_relaxation(relaxation, temperature)
    if logits.shape[-1] != codebook.shape[0]:
        msg = f"logits have {logits.shape[-1]} classes but the codebook has {codebook.shape[0]} codes"
        raise ValueError(msg)
    if relaxation == "hard":
        return codebook[logits.argmax(dim=-1)]
    # Softmax in float32 at least: 15360 classes underflow quickly in half precision.
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    soft = (probs @ codebook.to(probs.dtype)).to(codebook.dtype)
    if relaxation == "soft":
        return soft
    hard = codebook[logits.argmax(dim=-1)]
    return hard + (soft - soft.detach())
