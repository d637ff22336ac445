"""Write an evaluation report: ``tiles.csv``, ``summary.json``, PNG panels and an optional paired comparison."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from torch import nn

from axion_terratorch.inference.comparison import paired_comparison, read_tiles_csv
from axion_terratorch.inference.evaluation import evaluate, summarise
from axion_terratorch.inference.files import write_csv, write_json
from axion_terratorch.inference.panels import collect_tiles, pick_tiles, write_panels
from axion_terratorch.losses.lpips import LPIPSLoss

logger = logging.getLogger(__name__)


def write_report(
    model: nn.Module,
    batches: Callable[[], Iterator[dict[str, Any]]],
    folder: str | os.PathLike[str],
    lpips: LPIPSLoss | None = None,
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
    key = "sar_agreement_gain" if any(r["sar_agreement_gain"] for r in rows) else "sar_agreement_output"
    tiles = pick_tiles(rows, key)
    found = collect_tiles(model, batches(), sorted(set(tiles.values())), target_key)
    summary["panels"] = {
        label: {"tile": rows[index]["tile"], "ranked_by": key} for label, index in tiles.items()
    }
    if baseline is not None:
        comparisons = {
            metric: paired_comparison(read_tiles_csv(baseline), rows, metric, ("baseline", "this_run"))
            for metric in ("sar_agreement_output", "sar_agreement_gain")
        }
        write_json(folder / "comparison.json", {"baseline": str(baseline), **comparisons})
    write_csv(folder / "tiles.csv", rows)
    write_panels(tiles, found, rows, model.bands, folder)
    write_json(folder / "summary.json", summary)
    logger.info("evaluation report of %d tiles in %s", len(rows), folder)
    return summary
