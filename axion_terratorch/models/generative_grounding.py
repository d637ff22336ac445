"""TerraMind v1 generation (S1GRD + S2L2A -> S2L2A) made differentiable: the Stage 3 model of the
original Stage 3 guide."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Literal

import peft
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from axion_terratorch.compat.terratorch import (
    DECODER_CROSS_ATTENTION,
    TOKENIZER_PREFIX,
    codebook,
    decode_logits,
    diffusion_decoder,
    embed_input,
    encode_context,
    mask_encoder_generation,
    mask_queries,
    modality_name,
    modality_tokenizer,
    noise_scheduler,
    token_layout,
)
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, S2L2A_BANDS, SAR_KEY, band_slots
from axion_terratorch.init_config import RecordsInitArgs
from axion_terratorch.models.ddim import DDIMSchedule, ddim_decode, seeded_noise
from axion_terratorch.models.hub import fill_stand_in_weights, warn_if_untrainable
from axion_terratorch.models.inputs import unpack_image
from axion_terratorch.models.lora import LoraSettings, apply_lora, coerce_lora, count_parameters
from axion_terratorch.models.relaxed_tokens import Relaxation, check_relaxation, relax_tokens
from axion_terratorch.models.standardize import TerraMindStandardizer
from axion_terratorch.models.terramind_generation import TARGET_MODALITY, build_generation
from axion_terratorch.models.terramind_lora import PATCH_SIZE, Variant

logger = logging.getLogger(__name__)

#: Default LoRA targets: the cross-attention linears of the transformer's decoder blocks. Names are
#: those of terratorch's ``TerraMindGeneration`` (the S2L2A tokenizer lives under ``tokenizer.``).
DECODER_CROSS_ATTENTION_TARGETS = DECODER_CROSS_ATTENTION
#: Storage dtypes for the frozen weights (``frozen_dtype``).
FrozenDtype = Literal["float32", "float16", "bfloat16"]
FROZEN_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
#: Tiles are padded to a square whose side is a multiple of this: the token grid must be square
#: (TerraMind's decoder embedding) and the tokenizer's UNet works on 4 px patches downsampled 3 times.
TILE_MULTIPLE = 32


class TerraMindGenerativeGrounding(RecordsInitArgs, nn.Module):
    """Ground a Stage 2 optical estimate in Sentinel-1 with TerraMind's any-to-any generation.

    A differentiable version of terratorch's ``terramind_v1_<variant>_generate`` with S1GRD and
    S2L2A in and S2L2A out:

    1. the standardised SAR and optical tiles (optical bands placed in TerraMind's 12 S2L2A slots,
       missing slots set to 0, the band mean after standardisation) are padded to a square multiple
       of 32 px;
    2. one pass of the TerraMind transformer predicts the logits of every S2L2A token at once
       (decoder queries = mask tokens at all positions; no sampling, no random order);
    3. the logits become continuous FSQ codes (:func:`relax_tokens`: softmax expectation over the
       code grid at ``temperature``, straight-through, or hard argmax);
    4. the S2L2A tokenizer's diffusion decoder runs ``timesteps`` deterministic DDIM steps on those
       codes with autograd on (:func:`ddim_decode`; only the last ``gradient_steps`` of them when
       set), from noise drawn with ``noise_seed``;
    5. the configured bands are taken back out of the decoded 12-band image, cropped and
       de-standardised. Nothing else is blended in: the output is the decoded image.

    LoRA (peft) goes on the transformer's decoder cross-attention by default. The S2L2A tokenizer
    (encoder unused, decoder used) is always frozen; ``lora.freeze_base_model`` decides whether the
    rest of the transformer trains. With ``relaxation="hard"`` the output equals terratorch's
    ``tokenizer.decode_tokens`` of the argmax tokens for the same noise, and nothing is trainable
    through it (use it for inference or checks).

    Args:
        variant: TerraMind v1 size (``tiny``, ``small``, ``base``, ``large``).
        pretrained: Load the pretrained transformer and tokenizer weights (Hugging Face hub).
        ckpt_path: Local checkpoint instead of the transformer download: terratorch's hub file
            (``TerraMind_v1_<variant>.pt``) or a ``TerraMindGeneration`` state dict, which may hold
            the tokenizer too (see :func:`load_checkpoint`); a tokenizer not in the file follows
            ``pretrained``.
        standardize: Inputs are physical (dB, reflectance) and are standardised with TerraMind's
            statistics, the output de-standardised; ``False``: inputs and output are already in
            standardised units.
        bands: Optical bands, e.g. ``("B02", "B03", "B04", "B08")``.
        timesteps: DDIM steps of the diffusion decoder; can be changed later (attribute, or the
            ``timesteps`` argument of :meth:`forward`).
        temperature: Softmax temperature of the relaxed tokens (> 0).
        relaxation: ``"soft"``, ``"straight_through"`` or ``"hard"`` (see :func:`relax_tokens`).
        lora: LoRA settings; ``target_modules`` (regex on ``TerraMindGeneration`` module names)
            defaults to :data:`DECODER_CROSS_ATTENTION_TARGETS`. ``None`` trains the whole
            transformer.
        noise_seed: Seed of the starting noise, shared by every sample: the same input always gives
            the same output, whatever else is in the batch.
        checkpoint_steps: Recompute each denoising step in the backward pass instead of storing its
            activations (memory ~ one step instead of ``timesteps`` steps).
        gradient_steps: Backpropagate through the last ``gradient_steps`` denoising steps only: the
            first ``timesteps - gradient_steps`` run under ``torch.no_grad()`` (truncated
            backpropagation through the sampler, DRaFT-K: Clark et al. 2023, "Directly Fine-Tuning
            Diffusion Models on Differentiable Rewards"). The output is the same; the gradient
            keeps the codes' direct path into those last steps and drops their path through the
            earlier ones, for a fraction of the backward pass. ``None``: every step (the original
            Stage 3 guide's behaviour). Composes with ``checkpoint_steps`` (which then applies to the recorded
            steps). A call with fewer steps than ``gradient_steps`` (an inference override)
            records them all.

            .. versionadded:: 0.1
        frozen_dtype: Storage dtype of the frozen weight matrices and kernels (parameters with
            more than one dimension: nearly all the bytes, ``docs/performance.md``; biases, norm weights, the trainable
            parameters and buffers stay float32, as CPU norm layers need). ``"float16"`` / ``"bfloat16"`` halve their memory and, under
            mixed precision, spare the half-precision copy of every frozen weight that autocast
            otherwise makes, and autograd keeps, at each denoising step. With a half dtype the
            forward pass always runs under ``torch.autocast``: if the caller has not entered it,
            the model does, in that dtype (in ``bfloat16`` on the CPU, as Lightning's ``16-mixed``
            does there), since the layers cannot mix float32 inputs with half weights.

            .. versionadded:: 0.1
        stand_in_decoder: Give the tokenizer decoder's zero-initialised layers small seeded random
            weights (:func:`~axion_terratorch.models.hub.fill_stand_in_weights`). Without pretrained
            weights those layers are zero, the output is identically 0 and nothing trains (a warning
            says so); this stand-in is for tests and ``axion-stage3 train --smoke``, not real runs.

    Shape:
        - Input: ``{"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance}``.
        - Output: ``(B, C, H, W)`` grounded reflectance, same bands as the optical input.

    Raises:
        ValueError: For an unknown band, ``timesteps`` outside ``[1, 1000]``, ``gradient_steps``
            outside ``[1, timesteps]``, a non-positive
            ``temperature`` or an unknown ``relaxation``; if ``lora.target_modules`` matches no
            linear layer or a layer of the tokenizer.
    """

    def __init__(
        self,
        variant: Variant = "base",
        pretrained: bool = True,
        ckpt_path: str | None = None,
        standardize: bool = True,
        bands: Sequence[str] = DEFAULT_BANDS,
        timesteps: int = 10,
        temperature: float = 1.0,
        relaxation: Relaxation = "soft",
        lora: LoraSettings | None = LoraSettings(),  # noqa: B008 - frozen dataclass
        noise_seed: int = 0,
        checkpoint_steps: bool = False,
        gradient_steps: int | None = None,
        frozen_dtype: FrozenDtype = "float32",
        stand_in_decoder: bool = False,
    ) -> None:
        super().__init__()
        lora = coerce_lora(lora)
        self.slots = band_slots(bands)
        check_relaxation(relaxation, temperature)
        if frozen_dtype not in FROZEN_DTYPES:
            msg = f"frozen_dtype must be one of {sorted(FROZEN_DTYPES)}, got {frozen_dtype!r}"
            raise ValueError(msg)
        if timesteps < 1:  # checked before the (slow) build; the upper bound comes from the scheduler
            msg = f"timesteps must be >= 1, got {timesteps}"
            raise ValueError(msg)
        _check_gradient_steps(gradient_steps, timesteps)
        self.variant = variant
        self.bands = tuple(bands)
        self.standardize = standardize
        self.temperature = temperature
        self.relaxation: Relaxation = relaxation
        self.noise_seed = noise_seed
        self.checkpoint_steps = checkpoint_steps
        self.standardizer = TerraMindStandardizer(bands)
        generation = build_generation(variant, pretrained, ckpt_path, timesteps)
        self._schedule = DDIMSchedule(noise_scheduler(modality_tokenizer(generation, TARGET_MODALITY)))
        self.timesteps = timesteps
        self.gradient_steps = gradient_steps
        if lora is None:
            self.generation: nn.Module = generation
        else:
            _refuse_tokenizer_targets(generation, lora.target_modules or DECODER_CROSS_ATTENTION_TARGETS)
            self.generation = apply_lora(generation, lora, DECODER_CROSS_ATTENTION_TARGETS)
        self.tokenizer.requires_grad_(False)
        self.stand_in_decoder = stand_in_decoder
        if stand_in_decoder:
            fill_stand_in_weights(diffusion_decoder(self.tokenizer))
        else:
            warn_if_untrainable(diffusion_decoder(self.tokenizer))
        self.frozen_dtype: FrozenDtype = frozen_dtype
        for param in self.parameters():
            if not param.requires_grad and param.ndim > 1:
                param.data = param.data.to(FROZEN_DTYPES[frozen_dtype])
        trainable, total = count_parameters(self)
        logger.info(
            "TerraMind v1 %s generative grounding: %s of %s parameters trainable",
            variant,
            f"{trainable:,}",
            f"{total:,}",
        )

    @property
    def timesteps(self) -> int:
        """DDIM steps of the diffusion decoder (settable; checked against the scheduler)."""
        return self._timesteps

    @timesteps.setter
    def timesteps(self, value: int) -> None:
        self._schedule.timesteps(value)
        self._timesteps = value

    @property
    def gradient_steps(self) -> int | None:
        """Denoising steps backpropagated through, the last ones; ``None``: all (settable; checked)."""
        return self._gradient_steps

    @gradient_steps.setter
    def gradient_steps(self, value: int | None) -> None:
        _check_gradient_steps(value, self.timesteps)
        self._gradient_steps = value

    @property
    def core(self) -> nn.Module:
        """terratorch's ``TerraMindGeneration`` (with LoRA layers injected, if any)."""
        if isinstance(self.generation, peft.PeftModel):
            return self.generation.get_base_model()
        return self.generation

    @property
    def tokenizer(self) -> nn.Module:
        """The frozen S2L2A tokenizer (terratorch's ``DiVAE``)."""
        return modality_tokenizer(self.core, TARGET_MODALITY)

    def forward(self, image: dict[str, Tensor], timesteps: int | None = None) -> Tensor:
        """Return the grounded optical image.

        Args:
            image: ``{"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance}`` (standardised
                values when ``standardize`` is off).
            timesteps: DDIM steps for this call; default :attr:`timesteps`.

        Returns:
            ``(B, C, H, W)`` reflectance of the configured bands (standardised when
            ``standardize`` is off).
        """
        half = FROZEN_DTYPES[self.frozen_dtype]
        device = image[OPTICAL_KEY].device.type if OPTICAL_KEY in image else "cpu"
        if half != torch.float32 and not torch.is_autocast_enabled(device):
            # As Lightning's 16-mixed does on the CPU: float16 convolutions are very slow there.
            with torch.autocast(device, dtype=torch.bfloat16 if device == "cpu" else half):
                return self.forward(image, timesteps)
        sar, optical = unpack_image(image, len(self.bands))
        height, width = optical.shape[-2:]
        if self.standardize:
            sar, optical = self.standardizer.sar(sar), self.standardizer.optical(optical)
        side = TILE_MULTIPLE * math.ceil(max(height, width) / TILE_MULTIPLE)
        pad = (0, side - width, 0, side - height)
        slots = optical.new_zeros(optical.shape[0], len(S2L2A_BANDS), height, width)
        slots[:, self.slots] = optical
        logits = self.token_logits(F.pad(sar, pad, mode="replicate"), F.pad(slots, pad, mode="replicate"))
        codes = self.relaxed_codes(logits)
        decoded = self.decode(codes, timesteps)[:, self.slots, :height, :width]
        return self.standardizer.optical_inverse(decoded) if self.standardize else decoded

    def token_logits(self, sar: Tensor, optical: Tensor) -> Tensor:
        """Predict all S2L2A tokens in one transformer pass.

        Args:
            sar: ``(B, 2, S, S)`` standardised VV, VH; ``S`` a multiple of 16.
            optical: ``(B, 12, S, S)`` standardised S2L2A in TerraMind's slot order.

        Returns:
            ``(B, (S/16)**2, V)`` logits, tokens in row-major order, ``V`` = 15360.
        """
        core = self.core
        batch, num_tokens = sar.shape[0], (sar.shape[-2] // PATCH_SIZE) * (sar.shape[-1] // PATCH_SIZE)
        inputs = {}
        for key, value in ((SAR_KEY, sar), (OPTICAL_KEY, optical)):
            name = modality_name(core, key)
            mask = torch.zeros(batch, num_tokens, dtype=torch.bool, device=value.device)
            inputs[name] = embed_input(core, name, value, mask)
        tokens, emb, mask = mask_encoder_generation(core, inputs)
        context = encode_context(core, tokens, emb, mask)
        queries = mask_queries(core, TARGET_MODALITY, batch, num_tokens, sar.device)
        return decode_logits(core, TARGET_MODALITY, queries, context, mask)

    def relaxed_codes(self, logits: Tensor) -> Tensor:
        """``(B, N, V)`` logits -> ``(B, D, n, n)`` FSQ codes (``N = n * n``, ``D`` = 5) for the decoder."""
        codes = relax_tokens(logits, codebook(self.tokenizer), self.relaxation, self.temperature)
        side = math.isqrt(codes.shape[1])
        return rearrange(codes, "b (h w) d -> b d h w", h=side, w=side)

    def decode(self, codes: Tensor, timesteps: int | None = None) -> Tensor:
        """Run the tokenizer's diffusion decoder on ``(B, D, n, n)`` codes with autograd.

        Returns:
            ``(B, 12, 16 n, 16 n)`` standardised S2L2A, TerraMind's slot order.
        """
        patch_size, channels = token_layout(self.tokenizer)
        side = codes.shape[-1] * patch_size
        noise = seeded_noise(
            codes.shape[0], (channels, side, side), self.noise_seed, codes.device, codes.dtype
        )
        steps = self.timesteps if timesteps is None else timesteps
        decoder = diffusion_decoder(self.tokenizer)
        return ddim_decode(
            decoder, codes, noise, self._schedule, steps, self.checkpoint_steps, self.gradient_steps
        )

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant!r}, bands={self.bands}, timesteps={self.timesteps}, "
            f"relaxation={self.relaxation!r}, temperature={self.temperature}, noise_seed={self.noise_seed}, "
            f"checkpoint_steps={self.checkpoint_steps}, gradient_steps={self.gradient_steps}, "
            f"standardize={self.standardize}, "
            f"frozen_dtype={self.frozen_dtype!r}, stand_in_decoder={self.stand_in_decoder}"
        )


def _check_gradient_steps(gradient_steps: int | None, timesteps: int) -> None:
    """Raise unless ``gradient_steps`` is ``None`` or an integer in ``[1, timesteps]``."""
    if gradient_steps is None:
        return
    if (
        isinstance(gradient_steps, bool)
        or not isinstance(gradient_steps, int)
        or not 1 <= gradient_steps <= timesteps
    ):
        msg = (
            f"gradient_steps must be in [1, timesteps={timesteps}] or null (every step), "
            f"got {gradient_steps!r}"
        )
        raise ValueError(msg)


def _refuse_tokenizer_targets(generation: nn.Module, pattern: str) -> None:
    """Raise if the LoRA regex matches any module of the tokenizer (LoRA must stay on the transformer)."""
    hits = [name for name, _ in generation.named_modules() if name.startswith(TOKENIZER_PREFIX)]
    hits = [name for name in hits if re.fullmatch(pattern, name)]
    if hits:
        msg = (
            f"lora.target_modules {pattern!r} matches {len(hits)} layer(s) of the frozen S2L2A tokenizer, "
            f"e.g. {hits[:3]}; scope it to the transformer, e.g. {DECODER_CROSS_ATTENTION_TARGETS!r}"
        )
        raise ValueError(msg)
