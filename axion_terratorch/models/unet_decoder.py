"""U-Net decoder from a ViT token map back to full resolution, with skips from the inputs."""

from __future__ import annotations

import torch
from segmentation_models_pytorch.base.initialization import initialize_decoder
from segmentation_models_pytorch.base.modules import Conv2dReLU
from segmentation_models_pytorch.decoders.unet.decoder import UnetDecoder
from torch import Tensor, nn

#: Strides of the skip features, finest first; the token map comes at the next one (16).
SKIP_STRIDES = (1, 2, 4, 8)


def _stage(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Two 3x3 conv + ReLU layers, the first one with ``stride``; no normalisation."""
    return nn.Sequential(
        Conv2dReLU(in_channels, out_channels, kernel_size=3, padding=1, stride=stride, use_norm=False),
        Conv2dReLU(out_channels, out_channels, kernel_size=3, padding=1, use_norm=False),
    )


def _encoder(in_channels: int, widths: list[int]) -> nn.ModuleList:
    """Stages at strides 1, 2, 4, 8 with the given widths."""
    return nn.ModuleList(
        _stage(c_in, c_out, 1 if i == 0 else 2)
        for i, (c_in, c_out) in enumerate(zip([in_channels, *widths[:-1]], widths, strict=True))
    )


def _features(encoder: nn.ModuleList, x: Tensor) -> list[Tensor]:
    """The output of every stage of ``encoder``, finest first."""
    features = []
    for stage in encoder:
        x = stage(x)
        features.append(x)
    return features


class TokenUNetDecoder(nn.Module):
    """segmentation-models-pytorch's ``UnetDecoder`` over a stride-16 token map and full-resolution skips.

    A small convolutional encoder over the (standardised) inputs gives the skip features at strides
    1, 2, 4 and 8 (widths ``channels * (1/4, 1/2, 3/4, 1)``); the token map, projected to
    ``2 * channels`` by a 1x1 convolution, is the deepest feature. Four U-Net blocks (nearest x2
    upsampling, concatenation with the skip, two 3x3 convolutions) bring it back to full resolution.
    No normalisation layers (training runs with batches of one tile); He initialisation, as smp's
    models, so the features keep their scale through the ReLU stack.

    With ``branch_channels`` a second encoder of the same shape runs over another full-resolution
    input (the SAR), and its features are concatenated with the first's at every stride: each
    modality gets its own filters (speckle is not optical texture) before the decoder fuses them.

    Args:
        in_channels: Channels of the full-resolution input.
        token_channels: Width of the token map.
        channels: Width scale of the encoder and decoder (64: skips 16-32-48-64, tokens 128).
        branch_channels: Channels of the second full-resolution input (0: none).

    Shape:
        - Input: ``tokens (B, token_channels, H/16, W/16)``, ``inputs (B, in_channels, H, W)``,
          ``branch (B, branch_channels, H, W)`` (with ``branch_channels``), H and W multiples of 16.
        - Output: ``(B, out_channels, H, W)``.
    """

    def __init__(
        self, in_channels: int, token_channels: int, channels: int = 64, branch_channels: int = 0
    ) -> None:
        super().__init__()
        widths = [max(1, channels * k // 4) for k in range(1, len(SKIP_STRIDES) + 1)]
        self.encoder = _encoder(in_channels, widths)
        self.branch = _encoder(branch_channels, widths) if branch_channels else None
        skip_widths = [w * (2 if branch_channels else 1) for w in widths]
        self.project = Conv2dReLU(token_channels, 2 * channels, kernel_size=1, use_norm=False)
        decoder_widths = [widths[3], widths[2], widths[1], widths[1]]  # out of strides 8, 4, 2, 1
        self.unet = UnetDecoder(
            encoder_channels=[in_channels, *skip_widths, 2 * channels],
            decoder_channels=decoder_widths,
            n_blocks=len(decoder_widths),
            use_norm=False,
        )
        #: Width of the full-resolution output.
        self.out_channels = decoder_widths[-1]
        initialize_decoder(self)

    def forward(self, tokens: Tensor, inputs: Tensor, branch: Tensor | None = None) -> Tensor:
        """Decode ``tokens`` to full resolution with skips computed from ``inputs`` (and ``branch``)."""
        if (branch is None) != (self.branch is None):
            msg = "pass `branch` exactly when the decoder was built with branch_channels"
            raise ValueError(msg)
        skips = _features(self.encoder, inputs)
        if self.branch is not None:
            skips = [
                torch.cat(pair, dim=1) for pair in zip(skips, _features(self.branch, branch), strict=True)
            ]
        # smp's convention: features[0] is the input itself, dropped by the decoder (the finest skip
        # comes next); four blocks use the four skips and end at full resolution.
        return self.unet([inputs, *skips, self.project(tokens)])
