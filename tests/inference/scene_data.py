"""Tiny GeoTIFF scenes (written by ``tile_writers``), models and checkpoints for the inference tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.crs import CRS
from tile_writers import write_tif
from torch import nn

from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.models import LoraSettings, TerraMindResidualGrounding

CRS_UTM = CRS.from_epsg(32633)
BANDS = DEFAULT_BANDS
TINY_CONFIG = {
    "class_path": "axion_terratorch.models.TerraMindResidualGrounding",
    "init_args": {
        "variant": "tiny",
        "pretrained": False,
        "bands": list(BANDS),
        "lora": {"rank": 2, "alpha": 4.0, "dropout": 0.0, "target_modules": None, "freeze_base_model": True},
        "decoder_channels": 8,
        "ckpt_path": None,
        "decoder": "unet",
    },
}


def scene_arrays(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(sar (2, H, W) dB, optical (4, H, W) reflectance)`` with smooth structure plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / 12.0
    field = np.sin(yy + 0.5 * np.cos(xx)) + np.cos(0.7 * xx)
    optical = 0.12 + 0.04 * field[None] * np.array([0.5, 0.8, 1.0, 1.5])[:, None, None]
    optical = np.clip(optical + rng.normal(0, 0.005, optical.shape), 0.01, 1.0)
    sar = np.stack([-12 + 3 * field, -19 + 2.5 * field]) + rng.normal(0, 1.0, (2, height, width))
    return sar.astype(np.float32), optical.astype(np.float32)


#: Upper-left corner of the scenes (UTM 33N, m).
SCENE_ORIGIN = (500000.0, 5000000.0)


def write_raster(
    path: Path,
    data: np.ndarray,
    descriptions: list[str] | None = None,
    nodata: float | None = None,
    transform: rasterio.Affine | None = None,
    crs: CRS = CRS_UTM,
) -> Path:
    """:func:`tile_writers.write_tif` at 10 m from :data:`SCENE_ORIGIN` in UTM 33N (or ``transform``)."""
    return write_tif(path, data, descriptions, nodata, origin=SCENE_ORIGIN, crs=crs, transform=transform)


def write_pair(
    folder: Path, height: int, width: int, seed: int = 0, dn: bool = True, nodata: float | None = 0
) -> tuple[Path, Path]:
    """S1 (float32 dB, VV/VH described) and optical (uint16 DN or float32 reflectance, bands described)."""
    folder.mkdir(parents=True, exist_ok=True)
    sar, optical = scene_arrays(height, width, seed)
    s1 = write_raster(folder / "s1.tif", sar, ["VV", "VH"])
    data = np.rint(optical * 10000).astype(np.uint16) if dn else optical
    opt = write_raster(folder / "optical.tif", data, list(BANDS), nodata=nodata)
    return s1, opt


class PointwiseGrounding(nn.Module):
    """A per-pixel stand-in model: ``optical * (1 + 0.1 tanh((VV + 12) / 3))``; tiling is then exact."""

    bands = BANDS

    def forward(self, image: dict[str, torch.Tensor]) -> torch.Tensor:
        vv = image[SAR_KEY][:, :1]
        return image[OPTICAL_KEY] * (1 + 0.1 * torch.tanh((vv + 12) / 3))


def tiny_model(seed: int = 0, radiometry: str = "preserve") -> TerraMindResidualGrounding:
    """Tiny random TerraMind residual model whose zero-init head and LoRA B are perturbed (not identity)."""
    torch.manual_seed(seed)
    init = TINY_CONFIG["init_args"]
    model = TerraMindResidualGrounding(
        variant="tiny",
        pretrained=False,
        bands=BANDS,
        lora=LoraSettings(**init["lora"]),
        decoder_channels=init["decoder_channels"],
        decoder=init["decoder"],
        radiometry=radiometry,
    )
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("head.2") or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.1)
    return model.eval()


def write_checkpoint(model: nn.Module, path: Path, config: dict | None = None, step: int = 2) -> Path:
    """A checkpoint as ``terratorch fit`` writes it: task state dict and the model's class_path config."""
    torch.save(
        {
            "epoch": 0,
            "global_step": step,
            "pytorch-lightning_version": "2.6.6",
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {
                "_class_path": "axion_terratorch.SARGroundingTask",
                "model": TINY_CONFIG if config is None else config,
                "lr": 1e-3,
            },
        },
        path,
    )
    return path
