"""Training augmentation applied identically to every spatial array of a Stage 3 batch."""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from axion_terratorch.constants import ERROR_MASK_KEY, OPTICAL_KEY, SAR_KEY

Batch = dict[str, Tensor | dict[str, Tensor]]


class JointFlipRotate(nn.Module):
    """Random horizontal and vertical flips (each with probability ``p_flip``) and a rotation by a
    random multiple of 90 degrees, drawn per sample and applied identically to S1, the optical input,
    the target, the valid-pixel mask and the error mask (kornia ``AugmentationSequential`` with one
    data key each).

    The rotation uses nearest resampling, so every value is moved, never interpolated. Tiles must
    be square (rotating a non-square tile would crop it).

    Shape:
        - batch["image"]["S1GRD"]: (B, 2, S, S); batch["image"]["S2L2A"], batch["target"]: (B, C, S, S)
        - batch["valid_mask"]: bool (B, 1, S, S); batch["error_mask"]: float32 (B, 1, S, S).
          ``target``, ``valid_mask`` and ``error_mask`` are optional.

    Args:
        p_flip: Probability of each flip.
    """

    def __init__(self, p_flip: float = 0.5) -> None:
        super().__init__()
        self.p_flip = p_flip
        self.augment = K.AugmentationSequential(
            K.RandomHorizontalFlip(p=p_flip),
            K.RandomVerticalFlip(p=p_flip),
            K.RandomRotation90(times=(0, 3), p=1.0, resample="nearest"),
            data_keys=None,
        )

    def extra_repr(self) -> str:
        """Show the flip probability."""
        return f"p_flip={self.p_flip}"

    def forward(self, batch: Batch) -> Batch:
        """Return a new batch with the same keys, every spatial array transformed the same way.

        Raises:
            ValueError: If the tiles are not square.
        """
        image = dict(batch["image"])
        height, width = image[SAR_KEY].shape[-2:]
        if height != width:
            msg = f"90-degree rotations need square tiles, got {height}x{width}: set tile_size"
            raise ValueError(msg)
        keys = [key for key in ("target", "valid_mask", ERROR_MASK_KEY) if key in batch]
        tensors = [image[SAR_KEY], image[OPTICAL_KEY], *(batch[key] for key in keys)]
        data_keys = ["image", "image", *("mask" if key == "valid_mask" else "image" for key in keys)]
        tensors = [tensor.float() if tensor.dtype == torch.bool else tensor for tensor in tensors]
        out = self.augment(*tensors, data_keys=data_keys)
        result = {**batch, "image": {**image, SAR_KEY: out[0], OPTICAL_KEY: out[1]}}
        for key, tensor in zip(keys, out[2:], strict=True):
            result[key] = tensor > 0.5 if key == "valid_mask" else tensor
        return result
