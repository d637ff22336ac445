# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Can the SAR of the shared pairs say what lies under a cloud, better than the cloud's surroundings?

The companion of ``sar_localisation.py`` for the other structural error the SAR is meant to fix.
For every shared pair with a truth (``benchmarks/real_data.py``), the truth is occluded by the
project's cloud-and-shadow model (:class:`~axion_terratorch.datasets.stage2_errors.Stage2Errors`,
``occlusion`` only, ``--draws`` seeded draws). The occluded pixels (error mask above 0.5) are then
given the mask, as an oracle, and filled from the clear pixels (error mask below 0.02; a cloud's thin
edge and faint shadow are neither filled nor used) (weights: clear and Gaussian in
distance, ``sigma`` px, for each ``--sigmas``; ``0`` is one fit over the whole tile) by:

- ``surroundings``: the weighted mean of the clear pixels (normalised convolution; no SAR);
- ``sar``: the weighted least-squares fit, per band, of the clear pixels' reflectance on the
  despeckled VV and VH (dB, standardised), evaluated at the occluded pixels: a local, per-scene
  SAR-to-optical regression (its ``surroundings`` limit is a zero slope;
  :func:`~axion_terratorch.functional.sar_regression.sar_regression`);
- ``sar, wrong``: the same given the pair's SAR turned 180 degrees;
- ``found: ...``: the same three without the mask, one fit over the whole tile that finds the
  pixels to leave out itself
  (:func:`~axion_terratorch.functional.sar_regression.robust_sar_regression`, the fit of
  :class:`~axion_terratorch.models.SARFill`); still scored inside the occluded pixels.

The SAR is despeckled at 1.5 and 4 px (:func:`~axion_terratorch.functional.sar_regression.sar_guide`).
A scale at which the weights of an occluded pixel sum to less than ``MIN_SUPPORT`` of a clear
neighbourhood's uses the tile-wide fit there. Scored by PSNR against the truth inside the occluded
pixels. ``sar - surroundings`` is what the SAR can tell about hidden content when the area is
known: an upper bound for what a learned grounding can take from it for occlusions, since a model
must also find the area.

Usage::

    python benchmarks/sar_occlusion_fill.py --json benchmarks/sar_occlusion_fill.json
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from real_data import all_pairs
from result_files import write_result

from axion_terratorch.datasets.stage2_errors import Stage2Errors
from axion_terratorch.functional import smooth
from axion_terratorch.functional.sar_regression import robust_sar_regression, sar_guide, sar_regression

#: Error-mask values above this are occluded and filled (as ``real_pairs.py`` counts changed pixels).
MASK_THRESHOLD = 0.5
#: Error-mask values below this are clear and fit (a cloud's thin edge or a faint shadow is neither).
CLEAR_THRESHOLD = 0.02
#: Below this share of a clear neighbourhood's weight, a pixel takes the tile-wide fit.
MIN_SUPPORT = 0.05
METHODS = (
    "input",
    "surroundings",
    "sar",
    "sar, wrong",
    "found: surroundings",
    "found: sar",
    "found: sar, wrong",
)


def fill(
    image: torch.Tensor,
    guide: torch.Tensor,
    clear: torch.Tensor,
    occluded: torch.Tensor,
    sigma: float,
    slope: bool,
) -> torch.Tensor:
    """``image`` with its ``occluded`` pixels replaced by the fit over its ``clear`` ones (float
    weights) at scale ``sigma`` (0: tile-wide).

    Where a local neighbourhood holds too few clear pixels, the tile-wide fit stands in.
    """
    if not slope:
        guide = torch.zeros_like(guide)
    estimate = sar_regression(image, guide, clear)
    if sigma > 0:
        support = smooth(clear, sigma) / smooth(torch.ones_like(clear), sigma)
        local = sar_regression(image, guide, clear, sigma)
        estimate = torch.where(support >= MIN_SUPPORT, local, estimate)
    return torch.where(occluded, estimate, image)


def found(image: torch.Tensor, guide: torch.Tensor, occluded: torch.Tensor) -> torch.Tensor:
    """``image`` with its ``occluded`` pixels replaced by the tile-wide robust fit, which finds the
    pixels to leave out itself (no mask: what the residual model's ``sar_fill`` computes)."""
    return torch.where(occluded, robust_sar_regression(image, guide)[0], image)


def psnr_inside(output: torch.Tensor, truth: torch.Tensor, inside: torch.Tensor) -> float:
    """PSNR (data range 1) of ``output`` against ``truth`` over the ``inside`` pixels, all bands."""
    error = ((output - truth) ** 2).masked_select(inside.expand_as(truth)).mean()
    return -10 * math.log10(max(float(error), 1e-12))


def measure(draws: list[int], sigmas: list[float]) -> list[dict[str, Any]]:
    """One row per pair, draw, scale and method."""
    errors = Stage2Errors.only("occlusion")
    rows = []
    for pair in all_pairs():
        truth = pair.truth[0].double().numpy()
        guide = sar_guide(pair.sar.double())
        wrong = sar_guide(pair.sar.double().flip(-2, -1))
        for draw in draws:
            occluded_np, mask = errors.apply(truth, np.random.default_rng(1000 + draw))
            occluded = torch.from_numpy(mask > MASK_THRESHOLD)[None, None]
            clear = torch.from_numpy(mask < CLEAR_THRESHOLD)[None, None].double()
            if occluded.float().mean() < 0.01:
                continue
            image = torch.from_numpy(occluded_np).double()[None]
            truth_t = pair.truth.double()
            without_mask = {
                "found: surroundings": found(image, torch.zeros_like(guide), occluded),
                "found: sar": found(image, guide, occluded),
                "found: sar, wrong": found(image, wrong, occluded),
            }
            for sigma in sigmas:
                outputs = {
                    "input": image,
                    "surroundings": fill(image, guide, clear, occluded, sigma, slope=False),
                    "sar": fill(image, guide, clear, occluded, sigma, slope=True),
                    "sar, wrong": fill(image, wrong, clear, occluded, sigma, slope=True),
                    **without_mask,
                }
                for method, output in outputs.items():
                    rows.append(
                        {
                            "group": pair.group,
                            "pair": pair.name,
                            "draw": draw,
                            "sigma": sigma,
                            "occluded_fraction": float(occluded.float().mean()),
                            "method": method,
                            "psnr_inside": psnr_inside(output, truth_t, occluded),
                        }
                    )
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per group and scale: mean PSNR inside of each method, and the SAR's gains with their spread."""
    keyed = {(r["group"], r["pair"], r["draw"], r["sigma"], r["method"]): r["psnr_inside"] for r in rows}
    cases = sorted({k[:4] for k in keyed})
    summary = []
    for group in [*sorted({c[0] for c in cases}), "all"]:
        for sigma in sorted({c[3] for c in cases}):
            chosen = [c for c in cases if (group in ("all", c[0])) and c[3] == sigma]
            gain = [keyed[(*c, "sar")] - keyed[(*c, "surroundings")] for c in chosen]
            wrong = [keyed[(*c, "sar")] - keyed[(*c, "sar, wrong")] for c in chosen]
            found_gain = [keyed[(*c, "found: sar")] - keyed[(*c, "found: surroundings")] for c in chosen]
            found_wrong = [keyed[(*c, "found: sar")] - keyed[(*c, "found: sar, wrong")] for c in chosen]

            summary.append(
                {
                    "group": group,
                    "sigma": sigma,
                    "cases": len(chosen),
                    **{m: statistics.fmean(keyed[(*c, m)] for c in chosen) for m in METHODS},
                    "sar - surroundings": statistics.fmean(gain),
                    "sar - surroundings, min": min(gain),
                    "sar - surroundings, max": max(gain),
                    "sar - wrong": statistics.fmean(wrong),
                    "found: sar - surroundings": statistics.fmean(found_gain),
                    "found: sar - surroundings, min": min(found_gain),
                    "found: sar - surroundings, max": max(found_gain),
                    "found: sar - wrong": statistics.fmean(found_wrong),
                }
            )
    return summary


def spread_text(summary: dict[str, Any], key: str) -> str:
    """``mean [min, max]`` of a gain, right-aligned in 24 characters."""
    return f"{summary[key]:+.2f} [{summary[key + ', min']:+.2f}, {summary[key + ', max']:+.2f}]".rjust(24)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--draws", nargs="+", type=int, default=[0, 1, 2, 3, 4], help="occlusion draws per pair"
    )
    parser.add_argument(
        "--sigmas",
        nargs="+",
        type=float,
        default=[0.0, 8.0, 16.0, 32.0],
        help="fit scales, px (0: tile-wide)",
    )
    parser.add_argument("--json", type=Path, help="write the rows and the summary here")
    args = parser.parse_args(argv)
    rows = measure(args.draws, args.sigmas)
    summary = summarize(rows)
    print("PSNR inside the occluded pixels, dB (mean over cases); SAR gains: mean [min, max]")
    print(f"{'group':<16} {'sigma':>5} {'cases':>5} " + " ".join(f"{m:>19}" for m in METHODS))
    for s in summary:
        print(
            f"{s['group']:<16} {s['sigma']:>5.0f} {s['cases']:>5} "
            + " ".join(f"{s[m]:>19.2f}" for m in METHODS)
        )
    print(
        f"\n{'group':<16} {'sigma':>5} {'sar - surroundings':>24} {'sar - wrong':>12}"
        f" {'found: sar - surroundings':>26} {'found: sar - wrong':>19}"
    )
    for s in summary:
        print(
            f"{s['group']:<16} {s['sigma']:>5.0f} "
            + spread_text(s, "sar - surroundings")
            + f" {s['sar - wrong']:>+12.2f} "
            + spread_text(s, "found: sar - surroundings").rjust(26)
            + f" {s['found: sar - wrong']:>+19.2f}"
        )
    if args.json:
        write_result(args.json, __file__, argv, {"rows": rows, "summary": summary})


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
