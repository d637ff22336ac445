"""TerraMind encoder + LoRA + residual decoder: the first Stage 3 grounding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from terratorch.models.decoders.fcn_decoder import FCNDecoder
from torch import Tensor, nn

from axion_terratorch.argument_bounds import check_at_least
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.init_config import RecordsInitArgs
from axion_terratorch.models.inputs import unpack_image
from axion_terratorch.models.lora import LoraSettings, coerce_lora
from axion_terratorch.models.radiometry import TileRadiometry
from axion_terratorch.models.sar_alignment import SARRegistration
from axion_terratorch.models.sar_fill import SARFill
from axion_terratorch.models.standardize import TerraMindStandardizer
from axion_terratorch.models.terramind_lora import PATCH_SIZE, TerraMindLoRABackbone, Variant
from axion_terratorch.models.unet_decoder import TokenUNetDecoder

DecoderType = Literal["unet", "fcn"]
SARResolution = Literal["full", "branch", "tokens", "none"]
Radiometry = Literal["preserve", "free"]
#: A state-dict key prefix (under ``decoder.``) that only each decoder type has.
DECODER_SIGNATURES: dict[str, str] = {"fcn": "decoder.convs.", "unet": "decoder.unet."}


class TerraMindResidualGrounding(RecordsInitArgs, nn.Module):
    """Ground a Stage 2 optical estimate in Sentinel-1 with a LoRA-tuned TerraMind encoder.

    TerraMind encodes the standardised optical estimate and the SAR together (tokens of both
    modalities averaged) into a map of 16 px tokens, which a decoder brings back to full resolution:

    - ``unet`` (default): segmentation-models-pytorch's U-Net decoder, whose skip features come from a
      small convolutional encoder over the standardised inputs at strides 1, 2, 4 and 8, with the
      token map as the deepest feature (``TokenUNetDecoder``). Deblurring and re-aligning the optical
      estimate need full-resolution, multi-scale features, which 16 px tokens alone do not carry.
    - ``fcn``: terratorch's ``FCNDecoder`` (4 x2 transposed-convolution stages), the model's first
      decoder.

    A small head sees the decoder's features with the standardised inputs and predicts a correction,
    in standardised units, that is added to the input. The head's last layer starts at zero, so the
    untrained model returns its input unchanged. Tiles of any size are padded (replicate) to a
    multiple of 16 and cropped back.

    With ``radiometry="preserve"`` (default) the optical estimate is standardised by each tile's own
    per-band mean and spread instead of TerraMind's dataset statistics, and the correction is scaled
    by that spread with its per-band median over the tile removed (:class:`TileRadiometry`). The
    output then follows any per-band gain and offset of its input, and no band shifts as a whole:
    Stage 3 changes structure, which the SAR can vouch for, and leaves the input's radiometry
    (processing level, season, calibration), which it cannot, alone (``docs/quality.md``).

    Args:
        variant: TerraMind v1 size (``tiny``, ``small``, ``base``, ``large``).
        pretrained: Load TerraMind's pretrained weights (Hugging Face hub).
        bands: Optical bands, for example ``("B02", "B03", "B04", "B08")``.
        lora: LoRA settings (default: rank 8, alpha 16 on the encoder attention, base frozen);
            ``None`` fine-tunes the whole encoder.
        decoder_channels: Width of the decoder and head (``unet``: skips at a quarter to one times
            it, token map projected to twice it).
        ckpt_path: Local TerraMind checkpoint to load instead of the hub download.
        decoder: ``unet`` or ``fcn``, see above.
        sar_resolution: Where the SAR enters: ``full`` (TerraMind's tokens, and beside the optical
            at full resolution in the skip encoder and the head) or ``tokens`` (only through
            TerraMind's 16 px tokens: the full-resolution path sees the optical alone, so the model
            cannot copy SAR speckle or pixel texture into the output; docs/quality.md), or
            ``branch`` (TerraMind's tokens, and a full-resolution SAR encoder of its own whose
            features join the optical skips of the U-Net at every stride; the head sees the
            optical alone; ``unet`` decoder only), or ``none`` (the network sees the optical alone:
            the SAR enters only through ``sar_registration`` and ``sar_fill``, so replacing the SAR
            by its mean changes only those steps and the loss's SAR terms).
        radiometry: ``preserve`` (tile-relative input, median-free correction, see above) or
            ``free`` (TerraMind's statistics, any correction: the model can learn its training
            data's colours; weights saved before this setting existed are ``free``).
        gate: Also predict, from the same features, a per-pixel gate in [0, 1] of where the input
            is wrong, and apply the correction only there: ``output = input + gate * correction``.
            The gate of the last forward pass is kept in :attr:`last_gate` (``(B, 1, H, W)``), which
            :class:`~axion_terratorch.SARGroundingTask` supervises with the batch's error mask
            (``gate_weight``): the model learns where the Stage 2 estimate is wrong (clouds from the
            optical, moved boundaries and invented content from its disagreement with the SAR) and
            leaves the rest of the image as it is.
        sar_registration: First move the optical estimate to where the SAR puts its structure
            (:class:`~axion_terratorch.models.SARRegistration`, training-free, defaults: 64 px
            windows), then correct the registered image: ``output = registered + correction``.
            Where the SAR shows no confident structure the estimate is not moved. Tiles need at
            least 64 px per side (``docs/quality.md``, "What the SAR adds").
        sar_fill: Last, fill what the SAR contradicts with the tile's own SAR-to-optical fit
            (:class:`~axion_terratorch.models.SARFill`, training-free, default settings): pixels of
            the input that the scene's SAR does not explain (a cloud, its shadow, invented content),
            found without a mask, take the robust fit of the input on the despeckled SAR; every other
            pixel keeps the model's output (``docs/quality.md``, "What the SAR adds"). In evaluation
            mode only (validation, test, inference): the network trains on every pixel, with no
            gradient blocked where the fill would act.

    Shape:
        - Input: ``{"S1GRD": (B, 2, H, W) dB, "S2L2A": (B, C, H, W) reflectance}``.
        - Output: ``(B, C, H, W)`` grounded reflectance, same bands as the optical input.

    Raises:
        ValueError: On loading weights of the other decoder type or radiometry (the message names
            the setting).
    """

    def __init__(
        self,
        variant: Variant = "base",
        pretrained: bool = True,
        bands: Sequence[str] = DEFAULT_BANDS,
        lora: LoraSettings | None = LoraSettings(),  # noqa: B008 - frozen dataclass
        decoder_channels: int = 64,
        ckpt_path: str | None = None,
        decoder: DecoderType = "unet",
        sar_resolution: SARResolution = "full",
        radiometry: Radiometry = "preserve",
        gate: bool = False,
        sar_registration: bool = False,
        sar_fill: bool = False,
    ) -> None:
        super().__init__()
        check_at_least(1, {"decoder_channels": decoder_channels})
        if decoder not in DECODER_SIGNATURES:
            msg = f"decoder must be one of {sorted(DECODER_SIGNATURES)}, got {decoder!r}"
            raise ValueError(msg)
        if sar_resolution not in get_args(SARResolution):
            msg = f"sar_resolution must be one of {list(get_args(SARResolution))}, got {sar_resolution!r}"
            raise ValueError(msg)
        if radiometry not in get_args(Radiometry):
            msg = f"radiometry must be one of {list(get_args(Radiometry))}, got {radiometry!r}"
            raise ValueError(msg)
        if sar_resolution == "branch" and decoder != "unet":
            msg = "sar_resolution='branch' needs decoder='unet' (the FCN decoder has no skips)"
            raise ValueError(msg)
        self.decoder_type: DecoderType = decoder
        self.radiometry: Radiometry = radiometry
        # Saved with the weights, so that weights trained under the other setting are refused.
        self.register_buffer("preserves_radiometry", torch.tensor(radiometry == "preserve"))
        self.sar_resolution = sar_resolution
        self.bands = tuple(bands)
        self.standardizer = TerraMindStandardizer(bands)
        self.backbone = TerraMindLoRABackbone(
            variant=variant,
            modalities=(OPTICAL_KEY,) if sar_resolution == "none" else (OPTICAL_KEY, SAR_KEY),
            bands=bands,
            pretrained=pretrained,
            ckpt_path=ckpt_path,
            lora=coerce_lora(lora),
        )
        in_channels = len(bands) + (2 if sar_resolution == "full" else 0)
        self.decoder: FCNDecoder | TokenUNetDecoder
        if decoder == "fcn":
            self.decoder = FCNDecoder(self.backbone.out_channels, channels=decoder_channels, num_convs=4)
        else:
            branch = 2 if sar_resolution == "branch" else 0
            self.decoder = TokenUNetDecoder(
                in_channels, self.backbone.out_channels[-1], decoder_channels, branch
            )
        in_head = self.decoder.out_channels + in_channels
        self.head = nn.Sequential(
            nn.Conv2d(in_head, decoder_channels, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv2d(decoder_channels, len(bands), kernel_size=1),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.gate_head = (
            nn.Sequential(
                nn.Conv2d(in_head, decoder_channels, kernel_size=3, padding=1),
                nn.GELU(),
                nn.Conv2d(decoder_channels, 1, kernel_size=1),
            )
            if gate
            else None
        )
        #: The gate of the last forward pass, ``(B, 1, H, W)`` in [0, 1] (``None`` without ``gate``).
        self.last_gate: Tensor | None = None
        self.registration = SARRegistration(bands) if sar_registration else None
        self.sar_fill = SARFill(bands) if sar_fill else None

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """Return the grounded optical image, ``(B, C, H, W)`` reflectance."""
        sar, optical = unpack_image(image, len(self.bands))
        if self.registration is not None:
            with torch.no_grad():
                optical = self.registration(image)
        height, width = optical.shape[-2:]
        pad = (0, -width % PATCH_SIZE, 0, -height % PATCH_SIZE)
        tile = TileRadiometry.of(optical) if self.radiometry == "preserve" else None
        opt_z = self.standardizer.optical(optical) if tile is None else tile.standardize(optical)
        opt_z = F.pad(opt_z, pad, mode="replicate")
        sar_z = F.pad(self.standardizer.sar(sar), pad, mode="replicate")
        modalities = {OPTICAL_KEY: opt_z, SAR_KEY: sar_z}
        tokens = self.backbone({key: modalities[key] for key in self.backbone.modalities})[-1]
        grid = (opt_z.shape[-2] // PATCH_SIZE, opt_z.shape[-1] // PATCH_SIZE)
        token_map = tokens.transpose(1, 2).reshape(*tokens.shape[:1], -1, *grid)
        inputs = torch.cat([opt_z, sar_z], dim=1) if self.sar_resolution == "full" else opt_z
        if isinstance(self.decoder, FCNDecoder):
            features = self.decoder([token_map])
        else:
            features = self.decoder(token_map, inputs, sar_z if self.sar_resolution == "branch" else None)
        features = torch.cat([features, inputs], dim=1)
        delta = self.head(features)[..., :height, :width]
        if self.gate_head is not None:
            self.last_gate = torch.sigmoid(self.gate_head(features)[..., :height, :width])
            delta = delta * self.last_gate
        if tile is None:
            output = optical + delta * self.standardizer.optical_std
        else:
            output = optical + tile.correction(delta)
        if self.sar_fill is None or self.training:
            return output
        return self.sar_fill.blend(optical, sar, output)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        """Refuse the weights of the other decoder type or radiometry with a message naming the fix."""
        key = prefix + "preserves_radiometry"
        # Weights of the whole model without the marker were saved before the setting existed; a
        # partial state dict (an adapter export's extra weights) says nothing about it.
        legacy = key not in state_dict and prefix + "standardizer.optical_mean" in state_dict
        if key in state_dict or legacy:
            saved_radiometry = "preserve" if bool(state_dict.get(key, False)) else "free"
            if saved_radiometry != self.radiometry:
                msg = (
                    f"the weights were trained with radiometry={saved_radiometry!r} but the model was "
                    f"built with radiometry={self.radiometry!r}: set `radiometry: {saved_radiometry}` in "
                    "the model's init_args"
                )
                if legacy:
                    msg += " (weights saved before the setting existed are 'free')"
                raise ValueError(msg)
            state_dict.setdefault(key, self.preserves_radiometry.clone())
        saved = [
            name
            for name, signature in DECODER_SIGNATURES.items()
            if any(key.startswith(prefix + signature) for key in state_dict)
        ]
        if saved and self.decoder_type not in saved:
            msg = (
                f"the weights hold a {saved[0]!r} decoder but the model was built with "
                f"decoder={self.decoder_type!r}: set `decoder: {saved[0]}` in the model's init_args"
            )
            raise ValueError(msg)
        super()._load_from_state_dict(state_dict, prefix, *args)
