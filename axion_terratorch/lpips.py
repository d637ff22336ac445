"""LPIPS between optical images on their RGB bands: the network the LPIPS loss term and metrics share.

LPIPS needs torchvision's ImageNet weights of its backbone, a download on first use. Where LPIPS is
optional (``use_lpips`` of the loss, ``lpips`` of the metrics, ``--lpips`` of the commands) the default
``None`` computes it only when those weights are already on this machine (:func:`backbone_on_disk`)
and leaves it out otherwise, so nothing is downloaded unasked; ``True`` asks for it (and the download).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import lpips
import torch
from torch import Tensor, nn

from axion_terratorch.argument_bounds import check_positive
from axion_terratorch.constants import DEFAULT_BANDS, rgb_indices
from axion_terratorch.functional import as_weight, check_pair, masked_mean

#: LPIPS backbones (the ``lpips`` package's ``net`` names).
LPIPSNet = Literal["alex", "vgg", "squeeze"]
#: torchvision ImageNet weights each LPIPS backbone downloads on first use.
BACKBONE_WEIGHTS = {
    "alex": "alexnet-owt-7be5be79.pth",
    "vgg": "vgg16-397923af.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
}


def backbone_file(net: LPIPSNet) -> Path:
    """Where torchvision keeps the ImageNet weights of the LPIPS backbone ``net`` (torch hub's cache)."""
    if net not in BACKBONE_WEIGHTS:
        msg = f"lpips net must be one of {sorted(BACKBONE_WEIGHTS)}, got {net!r}"
        raise ValueError(msg)
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_WEIGHTS[net]


def backbone_on_disk(net: LPIPSNet = "alex") -> bool:
    """Whether the backbone weights of ``net`` are on this machine (LPIPS then needs no download)."""
    return backbone_file(net).is_file()


def wants_lpips(enabled: bool | None, net: LPIPSNet = "alex", pretrained_backbone: bool = True) -> bool:
    """Whether to build LPIPS: ``True`` always (downloading the backbone if need be), ``False`` never,
    ``None`` when that needs no download (its weights are on this machine, or a random backbone)."""
    if enabled is None:
        return not pretrained_backbone or backbone_on_disk(net)
    return enabled


def left_out_note(net: LPIPSNet, switch: str) -> str:
    """One line: LPIPS was left out because its backbone weights are not here, and ``switch`` adds it."""
    return (
        f"LPIPS left out: torchvision's {net!r} weights are not in {backbone_file(net).parent}; "
        f"{switch} downloads them and adds it"
    )


def build_lpips(net: LPIPSNet, pretrained_backbone: bool) -> lpips.LPIPS:
    """Frozen ``lpips.LPIPS`` with a spatial output.

    Raises:
        RuntimeError: If the backbone weights cannot be had (no network); the message names the file,
            where to put it and how to turn LPIPS off. There is no silent fallback to random weights.
    """
    folder = backbone_file(net).parent
    if not pretrained_backbone:
        warnings.warn(
            "LPIPS with a randomly initialised backbone: its values are not meaningful (for tests only).",
            UserWarning,
            stacklevel=3,
        )
    try:
        model = lpips.LPIPS(net=net, pnet_rand=not pretrained_backbone, spatial=True, verbose=False)
    except (OSError, RuntimeError) as err:
        msg = (
            f"LPIPS needs torchvision's pretrained {net!r} weights ({BACKBONE_WEIGHTS[net]}), which could "
            f"not be loaded: {err}. Put the file in {folder} (or set TORCH_HOME), or turn LPIPS off: "
            "`use_lpips: false` (or `lpips_weight: 0`) in the loss and `lpips: false` in the metrics."
        )
        raise RuntimeError(msg) from err
    model.requires_grad_(False)
    return model.eval()


class LPIPSDistance(nn.Module):
    """LPIPS between two optical images on their red, green and blue bands.

    Reflectance is mapped to LPIPS's [-1, 1] input range as ``clamp(x / rgb_max, 0, 1) * 2 - 1``
    (bands taken in R, G, B order: B04, B03, B02), and the spatial LPIPS map is averaged over valid
    pixels. The network is frozen and stays in eval mode; gradients flow to the inputs.

    Args:
        bands: Bands of the optical inputs; must include B02, B03 and B04.
        net: LPIPS backbone.
        rgb_max: Reflectance shown as full white.
        pretrained_backbone: Use torchvision's ImageNet weights (needs them on disk or a network);
            ``False`` is an explicit opt-in to random backbone weights, for tests.
    """

    def __init__(
        self,
        bands: Sequence[str] = DEFAULT_BANDS,
        net: LPIPSNet = "alex",
        rgb_max: float = 0.3,
        pretrained_backbone: bool = True,
    ) -> None:
        super().__init__()
        check_positive({"rgb_max": rgb_max})
        rgb_indices(bands)
        self.bands = tuple(bands)
        self.rgb_max = rgb_max
        self.net = net
        self.lpips = build_lpips(net, pretrained_backbone)

    @property
    def rgb(self) -> list[int]:
        """Positions of B04, B03, B02 in :attr:`bands` (follows a change of the bands)."""
        return list(rgb_indices(self.bands))

    def train(self, mode: bool = True) -> LPIPSDistance:
        """Keep the LPIPS network in eval mode whatever the parent's mode."""
        super().train(mode)
        self.lpips.eval()
        return self

    def to_lpips_range(self, x: Tensor) -> Tensor:
        """(B, C, H, W) reflectance -> (B, 3, H, W) RGB in [-1, 1]."""
        return (x[:, self.rgb] / self.rgb_max).clamp(0, 1) * 2 - 1

    def distance_map(self, output: Tensor, reference: Tensor) -> Tensor:
        """Spatial LPIPS, (B, 1, H, W)."""
        check_pair(output, reference)
        return self.lpips(self.to_lpips_range(output), self.to_lpips_range(reference), normalize=False)

    def per_sample(self, output: Tensor, reference: Tensor, mask: Tensor | None = None) -> Tensor:
        """LPIPS of each sample, (B,), averaged over its valid pixels."""
        weight = as_weight(mask, output)
        total = (self.distance_map(output, reference) * weight).sum(dim=(-3, -2, -1))
        return total / weight.sum(dim=(-3, -2, -1)).clamp_min(1e-6)

    def forward(self, output: Tensor, reference: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean LPIPS over valid pixels (scalar)."""
        return masked_mean(self.distance_map(output, reference), as_weight(mask, output))

    def extra_repr(self) -> str:
        return f"bands={self.bands}, net={self.net!r}, rgb_max={self.rgb_max}"
