"""Pick the best checkpoint of a run by fidelity to the targets (default), a composite score, or SAR agreement.

Fidelity, not SAR agreement, is the default: the most SAR-agreeing checkpoint is the one that
imprints the SAR most (``docs/quality.md``).

A checkpoint's validation metrics come from, in this order: the state its ``ModelCheckpoint``
callback saved with it (``current_score`` of the monitored metric, exact), then the run's
``CSVLogger`` files (``metrics.csv``: the last validation row logged at or before the checkpoint's
``global_step``).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from axion_terratorch.checkpoints.loading import read_checkpoint

logger = logging.getLogger(__name__)

Criterion = Literal["fidelity", "composite", "sar_agreement"]
#: Validation metric of ``fidelity`` selection: PSNR against the targets.
FIDELITY_METRIC = "val/psnr"
#: Validation metric of ``sar_agreement`` selection (kept for comparison with the original Stage 3
#: guide; it favours imprint).
AGREEMENT_METRIC = "val/sar_agreement"
#: Default composite score: SSIM against the targets, minus the SAR agreement in excess of the
#: targets' and the LPIPS change; terms the run did not log are left out (the same for every
#: checkpoint of a run).
COMPOSITE_WEIGHTS: dict[str, float] = {
    "val/ssim": 1.0,
    "val/sar_agreement_excess": -1.0,
    "val/lpips_change": -1.0,
}
_SINGLE = {"fidelity": FIDELITY_METRIC, "sar_agreement": AGREEMENT_METRIC}


@dataclass(frozen=True)
class RankedCheckpoint:
    """A checkpoint, its score and the metrics the score used."""

    path: Path
    score: float
    metrics: dict[str, float] = field(default_factory=dict)


def _checkpoint_metrics(path: Path) -> tuple[int, dict[str, float]]:
    """``global_step`` and the monitored scores stored by ModelCheckpoint callbacks (memory-mapped read).

    Raises:
        CheckpointError: If the file is not a readable Lightning checkpoint; the message names it.
    """
    checkpoint = read_checkpoint(path)
    metrics = {}
    for state in (checkpoint.get("callbacks") or {}).values():
        if isinstance(state, Mapping) and state.get("monitor") and state.get("current_score") is not None:
            metrics[state["monitor"]] = float(state["current_score"])
    return int(checkpoint.get("global_step", -1)), metrics


def _logged_validations(run_dir: Path) -> list[dict[str, float]]:
    """Validation rows (``step`` and ``val/...`` values) of every ``metrics.csv`` under ``run_dir``."""
    rows = []
    for csv_path in sorted(run_dir.glob("**/metrics.csv")):
        with csv_path.open(newline="") as f:
            for row in csv.DictReader(f):
                values = {k: float(v) for k, v in row.items() if k.startswith("val/") and v not in ("", None)}
                if values and row.get("step"):
                    rows.append({"step": float(row["step"]), **values})
    return rows


def rank_checkpoints(
    checkpoints: Sequence[str | os.PathLike[str]],
    criterion: Criterion = "fidelity",
    run_dir: str | os.PathLike[str] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[RankedCheckpoint]:
    """Score checkpoints, best first.

    Args:
        checkpoints: Checkpoint files of one run.
        criterion: ``fidelity`` (``val/psnr``), ``composite`` (weighted sum of ``weights``, default
            :data:`COMPOSITE_WEIGHTS`) or ``sar_agreement`` (``val/sar_agreement``).
        run_dir: Folder searched for ``metrics.csv`` (default: the checkpoints' common parent's parent).
        weights: Composite weights by logged metric name.

    Raises:
        ValueError: If a checkpoint has no value for a needed metric; the message names both.
    """
    paths = [Path(p) for p in checkpoints]
    if not paths:
        msg = "no checkpoints to rank"
        raise ValueError(msg)
    run_dir = (
        Path(run_dir) if run_dir is not None else Path(os.path.commonpath([p.parent for p in paths])).parent
    )
    logged = _logged_validations(run_dir)
    required = _SINGLE.get(criterion)
    weights = {required: 1.0} if required else dict(weights or COMPOSITE_WEIGHTS)
    found = {}
    for path in paths:
        step, metrics = _checkpoint_metrics(path)
        earlier = [row for row in logged if row["step"] <= step]
        found[path] = {**(earlier[-1] if earlier else {}), **metrics}
    used = {name: w for name, w in weights.items() if any(name in m for m in found.values())}
    if required and required not in used:
        msg = f"no {required} found for the checkpoints (neither ModelCheckpoint state nor metrics.csv under {run_dir})"
        raise ValueError(msg)
    ranked = []
    for path, metrics in found.items():
        missing = [name for name in used if name not in metrics]
        if missing:
            msg = f"{path}: no logged value of {missing} (validation before step of this checkpoint)"
            raise ValueError(msg)
        score = sum(w * metrics[name] for name, w in used.items())
        ranked.append(RankedCheckpoint(path, score, {name: metrics[name] for name in used}))
    return sorted(ranked, key=lambda r: r.score, reverse=True)
