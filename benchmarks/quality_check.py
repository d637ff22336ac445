# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Calibration of the model-free quality check on the real pairs beside the checkout.

For every real pair (``benchmarks/real_data.py``) it judges, with
:func:`~axion_terratorch.inference.quality.check_tiles` (what ``predict``, ``evaluate`` and
``axion-stage3 check`` use):

- ``input``: the Stage 2 proxy itself (unchanged output), and ``truth``: the true Sentinel-2 as if a
  grounding had restored it perfectly. Both must pass.
- SAR imprints added to the input, at strengths 0.25-2 times the input's own high-frequency
  amplitude: ``imprint`` (smoothed SAR texture, every band alike), ``imprint-colour`` (alternating
  signs per band: the purple/green speckle of over-grounded models), ``imprint-speckle`` (raw SAR).
  All must be flagged ``over-grounded``.
- ``truth+imprint``: a perfect restoration with an imprint on top (a partly over-grounded output).
- ``model:NAME``: the output of each ``--checkpoint NAME=PATH`` (e.g. the demo's checkpoint, or a
  model trained with the seed's unbounded SAR term), with PSNR against the truth.

Usage::

    python benchmarks/quality_check.py --checkpoint demo=outputs/demo/checkpoints/last.ckpt \\
        --json benchmarks/quality_check.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import torch
from real_data import SHARED_DATA, RealPair, real_pairs

from axion_terratorch.atomic import atomic_path
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.functional import luminance, smooth
from axion_terratorch.inference.checkpoint import load_model
from axion_terratorch.inference.quality import QualityCheck, check_tiles
from axion_terratorch.metrics.functional import psnr_from_mse
from axion_terratorch.metrics.imprint import IMPRINT_SAR_SIGMA, highpass

STRENGTHS = (0.25, 0.5, 1.0, 2.0)
#: Per-band signs of the colour imprint (B02, B03, B04, B08).
COLOUR = torch.tensor([1.0, -1.0, 1.0, -1.0])[None, :, None, None]


def imprint(image: torch.Tensor, sar: torch.Tensor, strength: float, kind: str) -> torch.Tensor:
    """``image`` plus the SAR's texture, scaled to ``strength`` times the image's high-pass amplitude."""
    intensity = sar.mean(dim=1, keepdim=True)
    texture = highpass(intensity if kind == "speckle" else smooth(intensity, IMPRINT_SAR_SIGMA))
    texture = texture / texture.std()
    lum = luminance(image, DEFAULT_BANDS)
    scale = strength * highpass(lum).std() * image.mean(dim=(-2, -1), keepdim=True) / lum.mean()
    signs = COLOUR if kind == "colour" else 1.0
    return (image + scale * signs * texture).clamp_min(0)


def psnr(image: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR (dB, data range 1); infinite for an exact copy."""
    return psnr_from_mse(((image - truth) ** 2).mean().double()).item()


def psnr_gain(image: torch.Tensor, pair: RealPair) -> float | None:
    """PSNR of ``image`` minus the input's, against the truth (``None`` for the truth itself)."""
    gain = psnr(image, pair.truth) - psnr(pair.proxy, pair.truth)
    return gain if math.isfinite(gain) else None


def candidates(
    pair: RealPair, models: dict[str, torch.nn.Module], strengths: tuple[float, ...] = STRENGTHS
) -> dict[tuple[str, str], torch.Tensor]:
    """(kind, variant) -> grounded image of ``pair``."""
    out = {("input", ""): pair.proxy, ("truth", ""): pair.truth}
    for strength in strengths:
        for kind in ("smooth", "colour", "speckle"):
            name = "imprint" if kind == "smooth" else f"imprint-{kind}"
            out[(name, f"x{strength:g}")] = imprint(pair.proxy, pair.sar, strength, kind)
        out[("truth+imprint", f"x{strength:g}")] = imprint(pair.truth, pair.sar, strength, "smooth")
    with torch.inference_mode():
        for name, model in models.items():
            out[(f"model:{name}", "")] = model({SAR_KEY: pair.sar, OPTICAL_KEY: pair.proxy}).float()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder of the shared real data")
    parser.add_argument("--checkpoint", action="append", default=[], help="NAME=PATH of a model to judge")
    parser.add_argument("--json", type=Path, help="write the rows and the summary here")
    args = parser.parse_args()
    models = {}
    for spec in args.checkpoint:
        name, _, path = spec.partition("=")
        models[name] = load_model(path).eval()
    check = QualityCheck()
    rows = []
    for pair in real_pairs(args.data):
        for (kind, variant), image in candidates(pair, models).items():
            ((before, after, score, change, verdict),) = check_tiles(
                image, pair.proxy, pair.sar, DEFAULT_BANDS, None, check
            )
            rows.append({
                "pair": pair.name, "kind": kind, "variant": variant, "flag": verdict.flag,
                "sar_agreement_input": before, "sar_agreement": after, "sar_imprint": score,
                "sar_agreement_change": change,
                "psnr_gain": psnr_gain(image, pair),
            })  # fmt: skip
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    summary = {}
    print(
        f"{'kind':22s} {'n':>3s} {'production':>10s} {'over-gr.':>8s} {'preview':>7s} {'imprint':>13s} {'change agr.':>13s} {'agreement':>13s} {'PSNR gain dB':>14s}"
    )
    for kind, group in by_kind.items():
        flags = defaultdict(int)
        for row in group:
            flags[row["flag"]] += 1
        spans = {}
        for key in ("sar_imprint", "sar_agreement_change", "sar_agreement", "psnr_gain"):
            values = [r[key] for r in group if r[key] is not None]
            spans[key] = (min(values), max(values)) if values else (math.nan, math.nan)
        summary[kind] = {"n": len(group), "flags": dict(flags), **{f"{k}_range": v for k, v in spans.items()}}
        print(
            f"{kind:22s} {len(group):3d} {flags['production']:10d} {flags['over-grounded']:8d} {flags['preview-only']:7d}"
            + "".join(f" {lo:6.2f}-{hi:<6.2f}" for lo, hi in spans.values())
        )
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(
                json.dumps({"check": check.as_dict(), "summary": summary, "rows": rows}, indent=2) + "\n"
            )


if __name__ == "__main__":
    main()
