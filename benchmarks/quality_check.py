# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""Calibration of the model-free quality check on every real pair beside the checkout.

For every shared pair (``benchmarks/real_data.py``: BigEarthNet L2A, SSL4EO-S12 L2A and L1C,
SEN12MS-CR L1C) and every Stage 2 error kind (``photometric``: the documented proxy without its band
gains, i.e. blur, shift and noise; ``misregistration``: that plus a smooth displacement field of up
to 3 px; ``occlusion``: that plus soft bright clouds over about 20% of the tile; ``both``), it judges
with :func:`~axion_terratorch.inference.quality.check_tiles` (what ``predict``, ``evaluate`` and
``axion-stage3 check`` use):

- ``input``: the Stage 2 input itself (unchanged output), and ``truth``: the true Sentinel-2 as if a
  grounding had restored it perfectly. Both must pass.
- SAR imprints added to the input, at strengths 0.25-2 times the input's own high-frequency
  amplitude: ``imprint`` (smoothed SAR texture, every band alike), ``imprint-colour`` (alternating
  signs per band: the purple/green speckle of over-grounded models), ``imprint-speckle`` (raw SAR).
  All must be flagged ``over-grounded``.
- ``truth+imprint``: a perfect restoration with an imprint on top (a partly over-grounded output).
- ``drift``: the input with one band scaled by 0.9 or 1.1 (each band in turn). All must be flagged.
- ``truth vs gained input`` (``photometric`` only): the truth against the proxy *with* its band gains
  (0.9-1.1): a restoration that undoes band gains, a radiometric change the check flags when a gain
  is beyond ``max_band_drift``.
- ``model:NAME``: the output of each ``--checkpoint NAME=PATH``, with PSNR against the truth.

The thresholds are tuned on the ``--tune`` group (BigEarthNet); the table per group shows the
separation on the groups they were not tuned on.

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
import torch.nn.functional as F
from real_data import SHARED_DATA, RealPair, all_pairs

from axion_terratorch.atomic import atomic_path
from axion_terratorch.checkpoints.loading import load_model
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, SAR_KEY
from axion_terratorch.functional import luminance, psnr_from_mse, smooth
from axion_terratorch.inference.quality import QualityCheck, check_tiles
from axion_terratorch.metrics.imprint import IMPRINT_SAR_SIGMA, highpass

STRENGTHS = (0.25, 0.5, 1.0, 2.0)
ERROR_KINDS = ("photometric", "misregistration", "occlusion", "both")
#: Largest displacement (px) of the emulated misregistration, cover and reflectance of the clouds.
DISPLACEMENT_PX = 3.0
CLOUD_COVER = 0.2
CLOUD_LEVEL = 0.35
#: Kinds that must pass and kinds that must be flagged.
MUST_PASS = ("input", "truth")
MUST_FLAG = ("imprint", "imprint-colour", "imprint-speckle", "drift")
#: The scores of the verdict, and the side of a threshold a flagged output lies on.
SCORES = ("sar_imprint", "change_agreement_excess", "band_drift_max")
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


def _field(shape: tuple[int, ...], channels: int, scale: float, seed: int) -> torch.Tensor:
    """A smooth random field ``(1, channels, H, W)`` of unit standard deviation, features ~``scale`` px."""
    noise = torch.randn(1, channels, *shape, generator=torch.Generator().manual_seed(seed))
    field = smooth(noise, scale)
    return (field - field.mean()) / field.std()


def misregister(image: torch.Tensor, seed: int, amplitude: float = DISPLACEMENT_PX) -> torch.Tensor:
    """``image`` warped by a smooth displacement field of at most ``amplitude`` px (bilinear)."""
    height, width = image.shape[-2:]
    shift = _field((height, width), 2, height / 8, seed)
    shift = shift / shift.abs().amax() * amplitude
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    grid = torch.stack([(cols + shift[0, 0]) / (width - 1), (rows + shift[0, 1]) / (height - 1)], -1) * 2 - 1
    return F.grid_sample(image, grid[None], padding_mode="border", align_corners=True)


def occlude(image: torch.Tensor, seed: int, cover: float = CLOUD_COVER) -> torch.Tensor:
    """``image`` under opaque bright clouds over ``cover`` of the tile, with soft (thin) edges around them."""
    field = _field(tuple(image.shape[-2:]), 1, image.shape[-1] / 12, seed)
    edge = ((field - torch.quantile(field.flatten(), 1 - cover)) / 0.5 + 1).clamp(0, 1)
    alpha = edge * edge * (3 - 2 * edge)
    return image * (1 - alpha) + alpha * CLOUD_LEVEL


def stage2_input(pair: RealPair, kind: str, seed: int = 0) -> torch.Tensor:
    """The Stage 2 input of ``pair`` with the error ``kind`` (``ERROR_KINDS``) on the gain-free proxy."""
    image = pair.proxy
    if kind in ("misregistration", "both"):
        image = misregister(image, seed)
    if kind in ("occlusion", "both"):
        image = occlude(image, seed + 1)
    return image


def psnr(image: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR (dB, data range 1); infinite for an exact copy."""
    return psnr_from_mse(((image - truth) ** 2).mean().double()).item()


def psnr_gain(image: torch.Tensor, optical: torch.Tensor, pair: RealPair) -> float | None:
    """PSNR of ``image`` minus the input's, against the truth (``None`` for the truth itself)."""
    gain = psnr(image, pair.truth) - psnr(optical, pair.truth)
    return gain if math.isfinite(gain) else None


def candidates(
    pair: RealPair,
    models: dict[str, torch.nn.Module],
    strengths: tuple[float, ...] = STRENGTHS,
    optical: torch.Tensor | None = None,
) -> dict[tuple[str, str], torch.Tensor]:
    """(kind, variant) -> grounded image of ``pair`` whose input is ``optical`` (default its proxy)."""
    optical = pair.proxy if optical is None else optical
    out = {("input", ""): optical, ("truth", ""): pair.truth}
    for strength in strengths:
        for kind in ("smooth", "colour", "speckle"):
            name = "imprint" if kind == "smooth" else f"imprint-{kind}"
            out[(name, f"x{strength:g}")] = imprint(optical, pair.sar, strength, kind)
        out[("truth+imprint", f"x{strength:g}")] = imprint(pair.truth, pair.sar, strength, "smooth")
    for band, name in enumerate(DEFAULT_BANDS):
        for gain in (0.9, 1.1):
            scale = torch.ones(len(DEFAULT_BANDS))
            scale[band] = gain
            out[("drift", f"{name}x{gain:g}")] = optical * scale[None, :, None, None]
    with torch.inference_mode():
        for name, model in models.items():
            out[(f"model:{name}", "")] = model({SAR_KEY: pair.sar, OPTICAL_KEY: optical}).float()
    return out


def score_row(image: torch.Tensor, optical: torch.Tensor, pair: RealPair, check: QualityCheck) -> dict:
    """The check's scores and verdict of ``image`` against its input ``optical``."""
    ((before, after, score, change, drift, verdict),) = check_tiles(
        image, optical, pair.sar, DEFAULT_BANDS, None, check
    )
    return {
        "flag": verdict.flag, "sar_agreement_input": before, "sar_agreement": after, "sar_imprint": score,
        "sar_agreement_change": change, "change_agreement_excess": change - max(before, after),
        "band_drift": drift, "band_drift_max": max(abs(v) for v in drift.values()),
        "psnr_gain": psnr_gain(image, optical, pair),
    }  # fmt: skip


def separation(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per score: the largest value among outputs that must pass, the smallest among those that must be flagged."""
    out = {}
    for key in SCORES:
        passed = [r[key] for r in rows if r["kind"] in MUST_PASS]
        flagged = [r[key] for r in rows if r["kind"] in MUST_FLAG and r["kind"] != "drift"]
        if key == "band_drift_max":
            flagged = [r[key] for r in rows if r["kind"] == "drift"]
        out[key] = {"pass_max": max(passed), "flag_min": min(flagged)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="folder of the shared real data")
    parser.add_argument("--checkpoint", action="append", default=[], help="NAME=PATH of a model to judge")
    parser.add_argument("--tune", default="bigearthnet-l2a", help="group the thresholds were tuned on")
    parser.add_argument("--json", type=Path, help="write the rows and the summary here")
    args = parser.parse_args()
    models = {}
    for spec in args.checkpoint:
        name, _, path = spec.partition("=")
        models[name] = load_model(path).eval()
    check = QualityCheck()
    rows = []
    gained = {pair.name: pair for pair in all_pairs(args.data)}
    for pair in all_pairs(args.data, band_gain=(1.0, 1.0)):
        base = {"group": pair.group, "pair": pair.name}
        for error in ERROR_KINDS:
            optical = stage2_input(pair, error)
            for (kind, variant), image in candidates(pair, models, optical=optical).items():
                row = base | {"error": error, "kind": kind, "variant": variant}
                rows.append(row | score_row(image, optical, pair, check))
        row = base | {"error": "photometric+gains", "kind": "truth vs gained input", "variant": ""}
        rows.append(row | score_row(pair.truth, gained[pair.name].proxy, pair, check))
    summary = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        tuned = " (thresholds tuned here)" if group == args.tune else " (not tuned on)"
        print(f"\n{group}{tuned}")
        summary[group] = _table([r for r in rows if r["group"] == group])
    print("\nall groups")
    summary["all"] = _table(rows)
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(
                json.dumps(
                    {"check": check.as_dict(), "tuned_on": args.tune, "summary": summary, "rows": rows},
                    indent=1,
                )
                + "\n"
            )


def _table(rows: list[dict]) -> dict:
    """Print the flags and score ranges per kind of ``rows``; return them with the separation."""
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    print(
        f"{'kind':22s} {'n':>4s} {'prod.':>5s} {'over':>5s} {'prev.':>5s} {'imprint':>11s} {'chg. excess':>12s}"
        f" {'band drift':>11s} {'PSNR gain dB':>14s}"
    )
    summary = {}
    for kind, group in by_kind.items():
        flags = defaultdict(int)
        for row in group:
            flags[row["flag"]] += 1
        spans = {}
        for key in ("sar_imprint", "change_agreement_excess", "band_drift_max", "psnr_gain"):
            values = [r[key] for r in group if r[key] is not None]
            spans[key] = (min(values), max(values)) if values else (math.nan, math.nan)
        summary[kind] = {"n": len(group), "flags": dict(flags), **{f"{k}_range": v for k, v in spans.items()}}
        print(
            f"{kind:22s} {len(group):4d} {flags['production']:5d} {flags['over-grounded']:5d} {flags['preview-only']:5d}"
            + "".join(f" {lo:5.2f}/{hi:<5.2f}" for lo, hi in spans.values())
        )
    split = separation(rows)
    print("separation (largest that must pass / smallest that must be flagged):")
    print("  " + ", ".join(f"{k} {v['pass_max']:.3f} / {v['flag_min']:.3f}" for k, v in split.items()))
    return {"kinds": summary, "separation": split}


if __name__ == "__main__":
    main()
