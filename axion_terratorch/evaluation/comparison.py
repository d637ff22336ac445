"""Paired comparison of two evaluation runs over the same tiles (ablations): paired t-test and Cohen's d."""

from __future__ import annotations

import csv
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from scipy import stats


def read_tiles_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of an evaluation's ``tiles.csv``: a ``tile`` column of distinct ids.

    Raises:
        FileNotFoundError: If the file is missing (the message names it).
        ValueError: If it is not such a CSV (no ``tile`` column, a duplicate tile id, a field longer
            than the csv module's limit, not text); the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"evaluation CSV not found: {path}"
        raise FileNotFoundError(msg)
    rows: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            if "tile" not in (reader.fieldnames or []):
                msg = f"{path}: no 'tile' column (columns: {(reader.fieldnames or [])[:10]}); is it an evaluation's tiles.csv?"
                raise ValueError(msg)
            for row in reader:
                tile = row["tile"]
                if tile in seen:
                    msg = f"{path}: tile {tile!r} appears twice (lines {seen[tile]} and {reader.line_num}); each tile once"
                    raise ValueError(msg)
                seen[tile] = reader.line_num
                rows.append(row)
    except (csv.Error, UnicodeDecodeError) as error:
        msg = f"{path}: not a readable CSV ({str(error).splitlines()[0]})"
        raise ValueError(msg) from error
    return rows


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
            values[str(row["tile"])] = _finite(row[metric], f"run {name!r} tile {row.get('tile')!r} {metric}")
    return values


def _finite(value: object, where: str) -> float:
    """``value`` as a finite float, else a ``ValueError`` naming ``where``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        msg = f"{where}: {shown} is not a finite number"
        raise ValueError(msg)
    return number
