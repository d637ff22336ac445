"""Paired comparison of two evaluation runs over the same tiles (ablations): paired t-test and Cohen's d."""

from __future__ import annotations

import csv
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from scipy import stats


def read_tiles_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of an evaluation's ``tiles.csv``.

    Raises:
        FileNotFoundError: If the file is missing (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"evaluation CSV not found: {path}"
        raise FileNotFoundError(msg)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def paired_comparison(
    run_a: Sequence[Mapping[str, object]],
    run_b: Sequence[Mapping[str, object]],
    metric: str = "sar_agreement",
    names: tuple[str, str] = ("a", "b"),
) -> dict[str, object]:
    """Compare ``metric`` of run B against run A tile by tile (tiles matched by their ``tile`` id).

    Returns:
        ``n``, the means of both runs, ``mean_difference`` (B - A), ``std_difference``, the paired
        t statistic and two-sided ``p_value`` (``scipy.stats.ttest_rel``), and Cohen's ``d`` for paired
        samples (``d_z`` = mean difference / standard deviation of the differences; ``None`` when
        every difference is the same).

    Raises:
        ValueError: If the runs share fewer than two tiles with values, or a row lacks ``metric``;
            the message names the metric and the tile counts.
    """
    a, b = (_by_tile(run, metric, name) for run, name in zip((run_a, run_b), names, strict=True))
    tiles = sorted(a.keys() & b.keys())
    if len(tiles) < 2:
        msg = f"runs {names[0]!r} ({len(a)} tiles) and {names[1]!r} ({len(b)} tiles) share {len(tiles)} tile(s) with {metric}; need >= 2"
        raise ValueError(msg)
    values_a, values_b = [a[t] for t in tiles], [b[t] for t in tiles]
    diffs = [vb - va for va, vb in zip(values_a, values_b, strict=True)]
    mean_diff, spread = statistics.fmean(diffs), statistics.stdev(diffs)
    result = stats.ttest_rel(values_b, values_a)
    return {
        "metric": metric,
        "runs": list(names),
        "n": len(tiles),
        f"mean_{names[0]}": statistics.fmean(values_a),
        f"mean_{names[1]}": statistics.fmean(values_b),
        "mean_difference": mean_diff,
        "std_difference": spread,
        "t_statistic": float(result.statistic),
        "p_value": float(result.pvalue),
        "cohens_d": mean_diff / spread if spread > 0 else None,
    }


def _by_tile(rows: Sequence[Mapping[str, object]], metric: str, name: str) -> dict[str, float]:
    values = {}
    for row in rows:
        if metric not in row:
            msg = f"run {name!r} has no column {metric!r}; columns: {sorted(row)}"
            raise ValueError(msg)
        if row[metric] not in (None, ""):
            values[str(row["tile"])] = float(row[metric])
    return values
