"""Evaluate a grounding model (or the Stage 2 input itself) over a data module: per-tile rows and a summary."""

from __future__ import annotations

import logging
import os
import statistics
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import torch
from lightning import LightningDataModule
from torch import Tensor, nn
from tqdm.auto import tqdm

from axion_terratorch.config import instantiate, read_yaml
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.evaluation.tile_scores import Row, score_tiles
from axion_terratorch.lpips import LPIPSDistance

logger = logging.getLogger(__name__)

#: The data module loader an evaluation reads.
EvalLoader = Literal["val", "test", "predict"]
#: LPIPS change below which a tile counts as perceptually unchanged (the original Stage 3 guide's threshold).
LPIPS_CHANGE_LIMIT = 0.15
_STAGES: dict[EvalLoader, tuple[str, str]] = {
    "val": ("validate", "val_dataloader"),
    "test": ("test", "test_dataloader"),
    "predict": ("predict", "predict_dataloader"),
}


class IdentityGrounding(nn.Module):
    """The ``--identity`` baseline: returns the Stage 2 input unchanged."""

    def __init__(self, bands: Sequence[str]) -> None:
        super().__init__()
        self.bands = tuple(bands)

    def forward(self, image: dict[str, Tensor]) -> Tensor:
        """The optical input, ``(B, C, H, W)``."""
        return image[OPTICAL_KEY]


def build_datamodule(config: str | os.PathLike[str] | Mapping[str, Any]) -> LightningDataModule:
    """Instantiate a data module from its ``class_path`` config.

    Args:
        config: A YAML file or dict holding either ``{"class_path", "init_args"}`` or a whole
            ``terratorch fit`` config with that under ``data``.

    Raises:
        FileNotFoundError: If the YAML file does not exist.
        ValueError: If the file is not valid YAML, the config has no ``class_path``, or jsonargparse
            rejects it (the message names the key).
        TypeError: If the file holds no mapping.
    """
    source = str(config) if not isinstance(config, Mapping) else "data config"
    data = dict(config) if isinstance(config, Mapping) else read_yaml(config, "--data")
    section = data.get("data", data)
    if not isinstance(section, Mapping) or "class_path" not in section:
        msg = f"{source} has no data module class_path (at the top level or under `data:`)"
        raise ValueError(msg)
    try:
        return instantiate(section, LightningDataModule, "data")
    except ValueError as error:
        msg = f"{source}: {error}"
        raise ValueError(msg) from error


def iterate_batches(
    datamodule: LightningDataModule, split: EvalLoader, device: torch.device
) -> Iterator[dict[str, Any]]:
    """Batches of ``split`` as a trainer would hand them to the model (transfer hooks applied)."""
    stage, loader_name = _STAGES[split]
    datamodule.prepare_data()
    datamodule.setup(stage)
    for batch in getattr(datamodule, loader_name)():
        batch = datamodule.on_before_batch_transfer(batch, 0)
        batch = datamodule.transfer_batch_to_device(batch, device, 0)
        yield datamodule.on_after_batch_transfer(batch, 0)


def evaluate(
    model: nn.Module,
    batches: Iterator[dict[str, Any]],
    lpips: LPIPSDistance | None = None,
    target_key: str = "target",
    mask_key: str = "valid_mask",
    progress: bool = True,
) -> list[Row]:
    """Score every tile, in dataset order; rows carry ``tile`` and the scores of :func:`score_tiles`.

    ``tile`` is the tile's name (the batch's ``filename``: its patch or file name) when the data
    module gives one, else its running index.
    """
    bands = tuple(model.bands)
    rows: list[Row] = []
    model.eval()
    with torch.inference_mode():
        for batch in tqdm(batches, desc="evaluating", unit="batch", disable=not progress):
            image = batch["image"]
            output = model(image)
            scores = score_tiles(
                output,
                image[OPTICAL_KEY],
                image[SAR_KEY],
                bands,
                batch.get(target_key),
                batch.get(mask_key),
                lpips,
            )
            names = batch.get("filename")
            rows += [
                {"tile": str(names[i]) if names is not None else len(rows) + i, **row}
                for i, row in enumerate(scores)
            ]
    if not rows:
        msg = "the data module yielded no tiles to evaluate"
        raise ValueError(msg)
    return rows


def _values(rows: Sequence[Row], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarise(rows: Sequence[Row], lpips_limit: float = LPIPS_CHANGE_LIMIT) -> dict[str, object]:
    """Summary of per-tile rows (means over tiles; target metrics over the tiles that have a target).

    Returns:
        ``n_tiles``; ``sar_agreement_input_mean``, ``sar_agreement_mean``,
        ``sar_agreement_gain_mean`` and ``_median``, ``share_improved``; ``lpips_change_mean``,
        ``_median``, ``lpips_change_share_below`` (``lpips_limit``); ``psnr_mean``, ``ssim_mean``,
        ``sam_mean``, ``mae_mean``, ``psnr_gain_mean``, ``ssim_gain_mean``, ``sar_agreement_target_mean``,
        ``sar_agreement_excess_mean``, ``n_tiles_with_target``; ``sar_imprint_mean`` and ``_max``;
        ``quality_flags`` (tiles per verdict of the quality check); and ``copy_of_sar_guard`` with the
        ratio's mean, min, share above 1 and ``passed`` (mean ratio > 1). ``None`` where no tile had data.
    """
    gains, lpips, ratios = (
        _values(rows, "sar_agreement_gain"),
        _values(rows, "lpips_change"),
        _values(rows, "copy_of_sar_ratio"),
    )
    summary: dict[str, object] = {
        "n_tiles": len(rows),
        "sar_agreement_input_mean": _mean(_values(rows, "sar_agreement_input")),
        "sar_agreement_mean": _mean(_values(rows, "sar_agreement")),
        "sar_agreement_gain_mean": _mean(gains),
        "sar_agreement_gain_median": statistics.median(gains),
        "share_improved": sum(bool(r["improved"]) for r in rows) / len(rows),
        "lpips_change_mean": _mean(lpips),
        "lpips_change_median": statistics.median(lpips) if lpips else None,
        "lpips_change_limit": lpips_limit,
        "lpips_change_share_below": sum(v < lpips_limit for v in lpips) / len(lpips) if lpips else None,
        "n_tiles_with_target": len(ratios),
    }
    target_keys = (
        "psnr",
        "ssim",
        "sam",
        "mae",
        "psnr_gain",
        "ssim_gain",
        "sar_agreement_target",
        "sar_agreement_excess",
    )
    summary.update({f"{key}_mean": _mean(_values(rows, key)) for key in target_keys})
    imprints = _values(rows, "sar_imprint")
    summary["sar_imprint_mean"] = _mean(imprints)
    summary["sar_imprint_max"] = max(imprints) if imprints else None
    summary["quality_flags"] = dict(Counter(str(r["quality_flag"]) for r in rows))
    summary["copy_of_sar_guard"] = {
        "ratio_mean": _mean(ratios),
        "ratio_min": min(ratios) if ratios else None,
        "share_above_1": sum(v > 1 for v in ratios) / len(ratios) if ratios else None,
        "passed": _mean(ratios) > 1 if ratios else None,
    }
    return summary
