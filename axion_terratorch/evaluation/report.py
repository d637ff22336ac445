"""Write an evaluation report: ``tiles.csv``, ``summary.json``, PNG panels and an optional paired comparison."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.evaluation.comparison import paired_comparison, read_tiles_csv
from axion_terratorch.evaluation.loop import evaluate, summarise
from axion_terratorch.evaluation.tile_scores import Row
from axion_terratorch.lpips import LPIPSDistance
from axion_terratorch.output_files import write_csv, write_json
from axion_terratorch.panels import save_comparison_panel

logger = logging.getLogger(__name__)


def write_report(
    model: nn.Module,
    batches: Callable[[], Iterator[dict[str, Any]]],
    folder: str | os.PathLike[str],
    lpips: LPIPSDistance | None = None,
    target_key: str = "target",
    mask_key: str = "valid_mask",
    baseline: str | os.PathLike[str] | None = None,
    metadata: dict[str, object] | None = None,
    progress: bool = True,
) -> dict[str, object]:
    """Evaluate ``model`` and write the report into ``folder``.

    Args:
        model: Grounding model with a ``bands`` attribute (or :class:`IdentityGrounding`).
        batches: Returns a fresh iterator over the evaluation batches (called twice: scores, panels).
        folder: Output folder: ``tiles.csv``, ``summary.json``, ``panel_{best,median,worst}.png``
            and, with ``baseline``, ``comparison.json``.
        lpips: LPIPS for the LPIPS change, or ``None``.
        target_key: Batch key of the real Sentinel-2 target.
        mask_key: Batch key of the valid-pixel mask.
        baseline: ``tiles.csv`` of another run over the same tiles, compared tile by tile.
        metadata: Extra entries of ``summary.json`` (checkpoint, data config, ...).
        progress: Show a progress bar.

    Returns:
        The summary.
    """
    folder = Path(folder)
    rows = evaluate(model, batches(), lpips, target_key, mask_key, progress)
    summary = {**(metadata or {}), **summarise(rows)}
    # The identity baseline has zero gain everywhere: rank its tiles by agreement instead.
    key = "sar_agreement_gain" if any(r["sar_agreement_gain"] for r in rows) else "sar_agreement"
    tiles = pick_tiles(rows, key)
    found = collect_tiles(model, batches(), sorted(set(tiles.values())), target_key)
    summary["panels"] = {
        label: {"tile": rows[index]["tile"], "ranked_by": key} for label, index in tiles.items()
    }
    if baseline is not None:
        comparisons = {
            metric: paired_comparison(read_tiles_csv(baseline), rows, metric, ("baseline", "this_run"))
            for metric in ("sar_agreement", "sar_agreement_gain")
        }
        write_json(folder / "comparison.json", {"baseline": str(baseline), **comparisons})
    write_csv(folder / "tiles.csv", rows)
    write_panels(tiles, found, rows, model.bands, folder)
    write_json(folder / "summary.json", summary)
    logger.info("evaluation report of %d tiles in %s", len(rows), folder)
    return summary


def pick_tiles(rows: Sequence[Row], key: str = "sar_agreement_gain") -> dict[str, int]:
    """Positions (dataset order) of the ``best``, ``median`` and ``worst`` rows by ``key`` (higher is better)."""
    order = sorted(range(len(rows)), key=lambda i: float(rows[i][key]))
    return {"best": order[-1], "median": order[len(order) // 2], "worst": order[0]}


def collect_tiles(
    model: nn.Module, batches: Iterator[dict[str, Any]], indices: Sequence[int], target_key: str = "target"
) -> dict[int, dict[str, np.ndarray]]:
    """Inputs, output and target of the tiles at ``indices`` (dataset order), as numpy arrays."""
    wanted, found, seen = set(indices), {}, 0
    with torch.inference_mode():
        for batch in batches:
            size = batch["image"][OPTICAL_KEY].shape[0]
            hits = [i for i in range(size) if seen + i in wanted]
            if hits:
                output = model(batch["image"])
                for i in hits:
                    tile = {
                        "optical": batch["image"][OPTICAL_KEY][i],
                        "sar": batch["image"][SAR_KEY][i],
                        "output": output[i],
                    }
                    if batch.get(target_key) is not None:
                        tile["target"] = batch[target_key][i]
                    found[seen + i] = {k: v.float().cpu().numpy() for k, v in tile.items()}
            seen += size
            if wanted <= found.keys():
                break
    return found


def write_panels(
    tiles: Mapping[str, int],
    found: Mapping[int, Mapping[str, np.ndarray]],
    rows: Sequence[Row],
    bands: Sequence[str],
    folder: str | os.PathLike[str],
) -> list[Path]:
    """One PNG per label (``best``, ``median``, ``worst``) in ``folder``, titled with the tile's name.

    ``tiles`` maps labels to row positions (:func:`pick_tiles`); returns the paths.
    """
    paths = []
    for label, index in tiles.items():
        row = rows[index]
        title = (
            f"{label}: tile {row['tile']}, SAR agreement {row['sar_agreement_input']:.3f} -> "
            f"{row['sar_agreement']:.3f} (gain {row['sar_agreement_gain']:+.3f})"
        )
        path = Path(folder) / f"panel_{label}.png"
        save_comparison_panel(found[index], bands, title, path)
        paths.append(path)
    return paths
