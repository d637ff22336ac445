# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Can the SAR of the shared pairs vouch for positions at the scale of Stage 2's structural errors?

For every shared pair with a truth (``benchmarks/real_data.py``: BigEarthNet L2A, SSL4EO-S12 L2A and
L1C, SEN12MS-CR L1C), in square blocks of the tile's interior, the integer shift ``s`` in
``[-R, R]^2`` that best aligns an optical image with a reference (``optical(x) ~ reference(x - s)``)
is the one maximising the normalised cross-correlation of a structure feature of both (``R = 6``, wider
than the known offsets of at most 4 px, so a block without a peak, whose maximum lies on the
window's border, does not land near a large offset by chance):

- ``gradient``: the gradient magnitude (Sobel) of the optical luminance, smoothed with
  ``OPTICAL_SIGMA`` px, and of the SAR intensity mean(VV, VH) in dB, despeckled with a Gaussian of
  ``--sar-sigma`` px;
- ``orientation``: the coherence-weighted doubled-angle orientation ``(c cos 2 theta, c sin 2 theta)``
  of the structure tensor (integration scale ``AGREEMENT_RHO``), the vectors the project's SAR
  agreement compares, correlated over both components.

Three comparisons, each per block:

- ``(a) sar, co-registered``: the truth against its SAR: a co-registered pair should give 0. Reported:
  the share of blocks within 1 px of 0 (Chebyshev distance), the share whose maximum lies on the
  window's border (no peak), the median peak correlation, the correlation at the true shift and the
  peak-to-second-peak contrast (the difference; the second peak lies outside the peak's 3 x 3
  neighbourhood);
- ``(b) sar, shifted``: the truth shifted by known offsets (1-4 px, ``--offsets`` draws) against its
  SAR: the median error of the recovered shift (px, Euclidean) and the share within 1 px of it;
- ``(c) optical, shifted``: the same shifted truth against the truth itself, an upper bound showing
  that the search works.

Chance is a shift drawn uniformly from the search window. Blocks are all blocks and, separately, the
``structured`` half (per tile, the blocks where the truth's gradient magnitude is largest) and the
``confident`` quarter (per group, the blocks with the largest peak-to-second-peak contrast against
the co-registered SAR: a registration that trusts only confident blocks sees these).

Usage::

    python benchmarks/sar_localisation.py --json benchmarks/sar_localisation_32px.json
    python benchmarks/sar_localisation.py --block 64 --json benchmarks/sar_localisation_64px.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from real_data import all_pairs

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import DEFAULT_BANDS
from axion_terratorch.functional import AGREEMENT_RHO, TINY, luminance, smooth, structure_tensor
from axion_terratorch.models.sar_alignment import gradient_magnitude

#: Half-width of the shift search, pixels: wider than the known offsets, so that a block without a
#: correlation peak (its maximum on the window's border) does not land near a large offset by chance.
RADIUS = 6
#: Largest known offset (Chebyshev length), pixels: the scale of the structural errors (up to 3 px).
MAX_OFFSET = 4
#: Gaussian sigma (px) smoothing the optical luminance before its gradient.
OPTICAL_SIGMA = 1.0
FEATURES = ("gradient", "orientation")
COMPARISONS = ("(a) sar, co-registered", "(b) sar, shifted", "(c) optical, shifted")
SUBSETS = ("all", "structured", "confident")


def orientation(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Coherence-weighted doubled-angle orientation ``(1, 2, H, W)`` of the structure tensor."""
    difference, off_diagonal, trace = structure_tensor(smooth(image, sigma), AGREEMENT_RHO)
    trace = trace.clamp_min(TINY)
    return torch.stack([difference / trace, off_diagonal / trace], dim=1)


def features(optical: torch.Tensor, sar: torch.Tensor, sar_sigma: float) -> dict[str, tuple]:
    """``{feature: (optical feature, SAR feature)}`` of a ``(1, 4, H, W)`` optical and ``(1, 2, H, W)`` SAR."""
    lum = luminance(optical, DEFAULT_BANDS)
    intensity = sar.mean(dim=1, keepdim=True)
    return {
        "gradient": (gradient_magnitude(lum, OPTICAL_SIGMA), gradient_magnitude(intensity, sar_sigma)),
        "orientation": (orientation(lum, OPTICAL_SIGMA), orientation(intensity, sar_sigma)),
    }


def correlation_volume(
    moving: torch.Tensor, reference: torch.Tensor, block: int, margin: int
) -> torch.Tensor:
    """NCC of each block of ``moving`` with ``reference`` shifted by every ``s`` in ``[-R, R]^2``.

    Blocks tile ``moving[margin:-margin, margin:-margin]``; returns ``(2R+1, 2R+1, rows, cols)``, index
    ``[R + sy, R + sx]`` for the hypothesis ``moving(x) ~ reference(x - s)``.
    """
    _, _, height, width = moving.shape
    rows, cols = (height - 2 * margin) // block, (width - 2 * margin) // block
    size_y, size_x = rows * block, cols * block

    def crop(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        return image[..., margin - dy : margin - dy + size_y, margin - dx : margin - dx + size_x]

    def pooled(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, block).sum(dim=1)[0]  # channels summed: one correlation over all

    a = crop(moving, 0, 0)
    a = a - F.avg_pool2d(a, block).repeat_interleave(block, -2).repeat_interleave(block, -1)
    var_a = pooled(a * a)
    volume = torch.empty(2 * RADIUS + 1, 2 * RADIUS + 1, rows, cols)
    for sy in range(-RADIUS, RADIUS + 1):
        for sx in range(-RADIUS, RADIUS + 1):
            b = crop(reference, sy, sx)
            b = b - F.avg_pool2d(b, block).repeat_interleave(block, -2).repeat_interleave(block, -1)
            volume[RADIUS + sy, RADIUS + sx] = pooled(a * b) / (var_a * pooled(b * b)).sqrt().clamp_min(TINY)
    return volume


def peaks(volume: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per block: the best shift ``(N, 2)`` (sy, sx), its correlation and the second peak's ``(N,)``.

    The second peak is the best correlation outside the 3 x 3 neighbourhood of the first.
    """
    n = 2 * RADIUS + 1
    flat = volume.flatten(2).permute(2, 0, 1).reshape(-1, n * n)  # (blocks, shifts)
    best, index = flat.max(dim=1)
    shift = torch.stack([index // n, index % n], dim=1) - RADIUS
    grid = (
        torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij"), -1).reshape(-1, 2)
        - RADIUS
    )
    near = (grid[None] - shift[:, None]).abs().amax(dim=-1) <= 1
    second = flat.masked_fill(near, -math.inf).max(dim=1).values
    return shift, best, second


def chance(offset: tuple[int, int]) -> tuple[float, float]:
    """Median error (px) and share within 1 px of a shift drawn uniformly from the search window."""
    grid = [(sy, sx) for sy in range(-RADIUS, RADIUS + 1) for sx in range(-RADIUS, RADIUS + 1)]
    errors = [math.dist(s, offset) for s in grid]
    within = [max(abs(s[0] - offset[0]), abs(s[1] - offset[1])) <= 1 for s in grid]
    return statistics.median(errors), sum(within) / len(grid)


def draw_offsets(count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` integer offsets with Chebyshev length 1-4, seeded."""
    generator = torch.Generator().manual_seed(seed)
    offsets: list[tuple[int, int]] = []
    while len(offsets) < count:
        sy, sx = (torch.randint(-MAX_OFFSET, MAX_OFFSET + 1, (2,), generator=generator)).tolist()
        if (sy, sx) != (0, 0):
            offsets.append((sy, sx))
    return offsets


def measure_pair(pair: Any, offsets: list[tuple[int, int]], block: int, sar_sigma: float) -> list[dict]:
    """One row per block, feature, comparison and offset of one pair."""
    margin = RADIUS  # >= MAX_OFFSET: the blocks never see the seam of a rolled feature
    truth_features = features(pair.truth, pair.sar, sar_sigma)
    structure = F.avg_pool2d(
        truth_features["gradient"][0][..., margin:-margin, margin:-margin], block, ceil_mode=False
    ).flatten()
    structured = structure >= structure.median()
    rows = []
    for feature, (optical, sar) in truth_features.items():
        cases = [("(a) sar, co-registered", (0, 0), optical, sar)]
        for offset in offsets:
            shifted = optical.roll(offset, dims=(-2, -1))  # the feature of the shifted truth, off the seam
            cases += [
                ("(b) sar, shifted", offset, shifted, sar),
                ("(c) optical, shifted", offset, shifted, optical),
            ]
        for comparison, offset, moving, reference in cases:
            volume = correlation_volume(moving, reference, block, margin)
            shift, best, second = peaks(volume)
            at_truth = volume[RADIUS + offset[0], RADIUS + offset[1]].flatten()
            for i in range(len(best)):
                error = math.dist(shift[i].tolist(), offset)
                rows.append(
                    {
                        "group": pair.group,
                        "pair": pair.name,
                        "feature": feature,
                        "comparison": comparison,
                        "block": i,
                        "offset": list(offset),
                        "shift": shift[i].tolist(),
                        "error": error,
                        "within_1px": bool((shift[i] - torch.tensor(offset)).abs().max() <= 1),
                        "border": bool(shift[i].abs().max() == RADIUS),
                        "peak": float(best[i]),
                        "contrast": float(best[i] - second[i]),
                        "at_truth": float(at_truth[i]),
                        "structured": bool(structured[i]),
                    }
                )
    return rows


def mark_confident(rows: list[dict]) -> None:
    """Flag, per group and feature, the quarter of SAR blocks (a) with the largest peak-to-second-peak
    contrast, and the same blocks in the other comparisons."""
    for key in {(r["group"], r["feature"]) for r in rows}:
        base = [r for r in rows if (r["group"], r["feature"]) == key and r["comparison"] == COMPARISONS[0]]
        contrasts = sorted(r["contrast"] for r in base)
        cut = contrasts[int(0.75 * len(contrasts))]
        confident = {(r["pair"], r["block"]) for r in base if r["contrast"] >= cut}
        for r in rows:
            if (r["group"], r["feature"]) == key:
                r["confident"] = (r["pair"], r["block"]) in confident


def scores(part: list[dict]) -> dict[str, Any]:
    """Localisation scores of some block rows, with the chance level of their offsets."""
    chances = [chance(tuple(r["offset"])) for r in part]
    return {
        "blocks": len(part),
        "pairs": len({r["pair"] for r in part}),
        "median_error_px": statistics.median(r["error"] for r in part),
        "within_1px": statistics.fmean(r["within_1px"] for r in part),
        "chance_median_error_px": statistics.fmean(c[0] for c in chances),
        "chance_within_1px": statistics.fmean(c[1] for c in chances),
        "border_peaks": statistics.fmean(r["border"] for r in part),
        "median_peak": statistics.median(r["peak"] for r in part),
        "median_at_truth": statistics.median(r["at_truth"] for r in part),
        "median_contrast": statistics.median(r["contrast"] for r in part),
    }


def summarize(rows: list[dict]) -> dict[str, Any]:
    """``{feature: {group: {comparison: {subset: scores}}}}`` (:func:`scores`)."""
    summary: dict[str, Any] = {}
    groups = [*dict.fromkeys(r["group"] for r in rows), "every pair"]
    for feature in FEATURES:
        for group in groups:
            for comparison in COMPARISONS:
                chosen = [
                    r
                    for r in rows
                    if r["feature"] == feature
                    and r["comparison"] == comparison
                    and group in (r["group"], "every pair")
                ]
                for subset in SUBSETS:
                    part = chosen if subset == "all" else [r for r in chosen if r[subset]]
                    if part:
                        entry = summary.setdefault(feature, {}).setdefault(group, {})
                        entry.setdefault(comparison, {})[subset] = scores(part)
    return summary


def per_pair(rows: list[dict]) -> dict[str, Any]:
    """``{feature: {pair: {comparison: scores}}}`` over all blocks, SAR comparisons only; ``(a)`` also
    gives the median estimated shift (an offset between the pair's S1 and S2 shows there)."""
    result: dict[str, Any] = {}
    for feature in FEATURES:
        for pair in dict.fromkeys(r["pair"] for r in rows):
            for comparison in COMPARISONS[:2]:
                key = (feature, pair, comparison)
                part = [r for r in rows if (r["feature"], r["pair"], r["comparison"]) == key]
                entry = scores(part)
                if comparison == COMPARISONS[0]:
                    entry["median_shift"] = [statistics.median(r["shift"][k] for r in part) for k in (0, 1)]
                result.setdefault(feature, {}).setdefault(pair, {})[comparison] = entry
    return result


def print_tables(summary: dict[str, Any]) -> None:
    """One table per feature: every group, comparison and block subset."""
    header = (
        f"{'group':16s}{'comparison':24s}{'blocks':>11s}{'n':>6s}{'med err':>9s}{'chance':>8s}"
        f"{'<=1px':>7s}{'chance':>8s}{'border':>7s}{'peak':>7s}{'@truth':>7s}{'contr':>7s}"
    )
    for feature, groups in summary.items():
        print(f"\nfeature: {feature}")
        print(header)
        for group, comparisons in groups.items():
            for comparison, subsets in comparisons.items():
                for subset, s in subsets.items():
                    print(
                        f"{group:16s}{comparison:24s}{subset:>11s}{s['blocks']:>6d}{s['median_error_px']:>9.2f}"
                        f"{s['chance_median_error_px']:>8.2f}{s['within_1px']:>7.2f}{s['chance_within_1px']:>8.2f}"
                        f"{s['border_peaks']:>7.2f}{s['median_peak']:>7.2f}{s['median_at_truth']:>7.2f}"
                        f"{s['median_contrast']:>7.2f}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=int, default=32, help="block side, pixels")
    parser.add_argument(
        "--sar-sigma", type=float, default=2.0, help="Gaussian despeckling of the SAR, pixels"
    )
    parser.add_argument("--offsets", type=int, default=4, help="known offsets drawn per pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", type=Path, help="write the settings, the summary and the scores per pair here"
    )
    args = parser.parse_args()
    offsets = draw_offsets(args.offsets, args.seed)
    rows = []
    with torch.inference_mode():
        for pair in all_pairs():
            rows += measure_pair(pair, offsets, args.block, args.sar_sigma)
    mark_confident(rows)
    summary = summarize(rows)
    print(f"block {args.block} px, SAR despeckled with sigma {args.sar_sigma} px, offsets {offsets}")
    print_tables(summary)
    if args.json:
        settings = {"block": args.block, "sar_sigma": args.sar_sigma, "radius": RADIUS, "offsets": offsets}
        with atomic_path(args.json) as tmp:
            result = {"settings": settings, "summary": summary, "per_pair": per_pair(rows)}
            tmp.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
