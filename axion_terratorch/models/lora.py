"""LoRA settings and their application with ``peft``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import peft
from torch import nn

from axion_terratorch.argument_bounds import check_at_least, check_fraction, check_positive

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapters on a frozen model, the original Stage 3 guide's ``model.lora`` block.

    Attributes:
        rank: LoRA rank ``r`` (seed: 4, 8 or 16).
        alpha: Scaling numerator; adapters are scaled by ``alpha / rank``.
        dropout: Dropout on the adapter input.
        target_modules: Regex matched with ``re.fullmatch`` against module names; ``None`` uses the
            model's default (for example the encoder attention of the residual model).
        freeze_base_model: Freeze every parameter that is not a LoRA adapter (seed: always for low VRAM).
    """

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: str | None = None
    freeze_base_model: bool = True

    def __post_init__(self) -> None:
        check_at_least(1, {"lora.rank": self.rank})
        check_positive({"lora.alpha": self.alpha})
        check_fraction({"lora.dropout": self.dropout})
        if self.target_modules is not None:
            try:
                re.compile(self.target_modules)
            except re.error as err:
                msg = f"lora.target_modules is not a valid regex: {self.target_modules!r} ({err})"
                raise ValueError(msg) from err

    def to_peft(self, default_targets: str) -> peft.LoraConfig:
        """Build the ``peft.LoraConfig``; ``default_targets`` applies when ``target_modules`` is unset."""
        return peft.LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules or default_targets,
            bias="none",
        )


def apply_lora(module: nn.Module, settings: LoraSettings, default_targets: str) -> peft.PeftModel:
    """Wrap ``module`` with LoRA adapters, freezing the rest when ``settings.freeze_base_model``.

    Raises:
        ValueError: If the target regex matches no linear layer; the message names
            ``lora.target_modules`` and shows some layer names that exist.
    """
    config = settings.to_peft(default_targets)
    linear = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not any(re.fullmatch(config.target_modules, name) for name in linear):
        msg = (
            f"lora.target_modules {config.target_modules!r} matches no linear layer of "
            f"{type(module).__name__}; its linear layers include {linear[:6]}"
        )
        raise ValueError(msg)
    wrapped = peft.get_peft_model(module, config)
    if not settings.freeze_base_model:
        for param in wrapped.parameters():
            param.requires_grad_(True)
    matched = sum(1 for name, _ in wrapped.named_modules() if name.endswith("lora_A"))
    trainable, total = wrapped.get_nb_trainable_parameters()
    logger.info(
        "LoRA rank %d on %d layers (%s): %s of %s parameters trainable",
        settings.rank,
        matched,
        config.target_modules,
        f"{trainable:,}",
        f"{total:,}",
    )
    return wrapped


def coerce_lora(lora: LoraSettings | dict | None) -> LoraSettings | None:
    """Accept a ``LoraSettings``, a plain dict (terratorch's ``backbone_*`` kwargs) or ``None``."""
    if lora is None or isinstance(lora, LoraSettings):
        return lora
    if isinstance(lora, dict):
        return LoraSettings(**lora)
    msg = f"lora must be LoraSettings, dict or None, got {type(lora).__name__}"
    raise TypeError(msg)


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """Return ``(trainable, total)`` parameter counts of ``module``, which may hold a peft model among
    other layers: peft's ``PeftModel.get_nb_trainable_parameters`` over the whole module, as
    ``peft.get_model_status`` counts a model that is not a ``PeftModel``."""
    return peft.PeftModel.get_nb_trainable_parameters(module)  # type: ignore[arg-type]
