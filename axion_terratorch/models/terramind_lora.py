"""TerraMind v1 encoder with LoRA adapters, usable as a terratorch backbone."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from axion_terratorch.compat.terratorch import build_backbone
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY, TERRAMIND_S2L2A_NAMES, band_slots
from axion_terratorch.init_config import RecordsInitArgs
from axion_terratorch.models.hub import pretrained_download
from axion_terratorch.models.lora import LoraSettings, apply_lora, coerce_lora

logger = logging.getLogger(__name__)

Variant = Literal["tiny", "small", "base", "large"]

#: Default LoRA targets of the encoder: the attention linears of every transformer block.
ENCODER_ATTENTION_TARGETS = r".*encoder\.\d+\.attn\.(qkv|proj)"
#: TerraMind's patch size: inputs must be multiples of it.
PATCH_SIZE = 16


class TerraMindLoRABackbone(RecordsInitArgs, nn.Module):
    """TerraMind v1 encoder (``terramind_v1_<variant>``) with peft LoRA adapters.

    Follows terratorch's backbone contract: ``forward`` returns one ``(B, N, D)`` token tensor per
    transformer block and ``out_channels`` lists their widths, so it plugs into
    ``EncoderDecoderFactory`` (with ``SelectIndices`` / ``ReshapeTokensToImage`` necks) like
    terratorch's own TerraMind backbones. Inputs are standardised by the caller.

    Args:
        variant: TerraMind v1 size.
        modalities: Input modalities, TerraMind names (``S2L2A``, ``S1GRD``, ...).
        bands: Sentinel-2 L2A bands of the ``S2L2A`` input (``B02`` ...); their pretrained patch
            embedding weights are taken from the matching TerraMind slots.
        pretrained: Load TerraMind's pretrained weights from the Hugging Face hub.
        ckpt_path: Local TerraMind checkpoint to load instead of the hub download.
        merge_method: How tokens of several modalities are merged (terratorch: mean, max, concat, dict).
        lora: LoRA settings, or ``None`` to train (or freeze) the plain encoder.
    """

    def __init__(
        self,
        variant: Variant = "base",
        modalities: Sequence[str] = (OPTICAL_KEY, SAR_KEY),
        bands: Sequence[str] = DEFAULT_BANDS,
        pretrained: bool = True,
        ckpt_path: str | None = None,
        merge_method: Literal["mean", "max", "concat", "dict"] = "mean",
        lora: LoraSettings | None = LoraSettings(),  # noqa: B008 - frozen dataclass
    ) -> None:
        super().__init__()
        lora = coerce_lora(lora)
        self.variant = variant
        self.bands = tuple(bands)
        self.modalities = tuple(modalities)
        names = [TERRAMIND_S2L2A_NAMES[slot] for slot in band_slots(bands)]
        with pretrained_download([f"terramind_v1_{variant}"], pretrained=pretrained and ckpt_path is None):
            encoder = build_backbone(
                f"terramind_v1_{variant}",
                modalities=list(modalities),
                pretrained=pretrained,
                ckpt_path=ckpt_path,
                merge_method=merge_method,
                bands={OPTICAL_KEY: names} if OPTICAL_KEY in modalities else None,
            )
        self.out_channels: list[int] = list(encoder.out_channels)
        if lora is None:
            self.encoder: nn.Module = encoder
        else:
            self.encoder = apply_lora(encoder, lora, ENCODER_ATTENTION_TARGETS)

    def forward(self, x: dict[str, Tensor] | Tensor) -> list[Tensor]:
        """Encode standardised inputs.

        Args:
            x: ``{modality: (B, C, H, W)}`` with H, W multiples of 16, or one tensor for the
                first modality.

        Returns:
            One ``(B, H/16 * W/16, D)`` tensor per transformer block.
        """
        return self.encoder(x)
