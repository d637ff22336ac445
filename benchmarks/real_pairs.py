# ruff: noqa: T201 - a command-line script: its table goes to stdout
"""What the SAR adds: train the real-data recipe with and without SAR, score both on held-out real pairs.

For every training seed, ``terratorch fit -c configs/stage3.real.yaml`` trains the ``full`` recipe and
the same recipe with the SAR replaced by its mean (``no-sar``,
:class:`~axion_terratorch.callbacks.SARAblation`), outputs redirected into ``--work-dir``. Then every
held-out pair (the recipe's test split, other places, and the same test location at the other
processing level, Level-1C) is degraded by each Stage 2 error kind, alone and together, under
several draws, and grounded by:

- ``full``: the recipe's checkpoint (selected on the validation pair by PSNR);
- ``no-sar``: the recipe trained and run without SAR;
- ``wrong-sar``: the ``full`` checkpoint given the pair's SAR turned 180 degrees (real backscatter
  statistics, wrong structure);
- ``guided``: a training-free SAR-guided filter (:class:`~axion_terratorch.models.SARGuidedFilter`);
- ``registration``: a training-free SAR-guided registration (:class:`~axion_terratorch.models.SARRegistration`),
  the input moved where the SAR puts its structure, and ``registration-wrong-sar``: the same given the
  pair's SAR turned 180 degrees (what of its gain the SAR's structure explains);
- ``sar-fill``: a training-free SAR fill (:class:`~axion_terratorch.models.SARFill`), the pixels
  the SAR contradicts replaced by the tile's own SAR-to-optical fit, and ``sar-fill-wrong-sar``.

Each is scored against the true Sentinel-2: PSNR and SSIM over the tile and inside the error mask
(the pixels the structural errors changed), as gains over the input, on the pixels where the true
image is clear: a true image with clouds of its own (bright and white in every visible band, grown by
3 px; the August L1C Punjab tile) is no reference for what lies under them, and a grounding that
removes them is not harmed there (``--score-reference-clouds`` scores them too,
``--reference-cloud-dilation`` sets the growth). With ``--sar-fill-after`` the trained models are
followed by the SAR fill, each given its own SAR. Under the photometric proxy alone the ``full``
output also gets the no-harm scores of ``axion-stage3 evaluate`` (SAR agreement excess, the input's
own excess, the model-free check's verdict). The validation pair is scored too, labelled ``val``: it
selected the checkpoint, so it is not evidence.

Usage::

    python benchmarks/real_pairs.py --seeds 0 1 2 --json benchmarks/real_pairs.json
    python benchmarks/real_pairs.py --recipe configs/stage3.real.structural.yaml --seeds 0 1 2 \
        --json benchmarks/real_pairs_structural.json
    python benchmarks/real_pairs.py --seeds 0 1 2 --set model.init_args.model.init_args.sar_resolution=branch \
        --set model.init_args.model.init_args.sar_fill=false \
        --set model.init_args.loss.init_args.sar_excess_weight=3.0 --json benchmarks/real_pairs_sar_branch.json
    python benchmarks/real_pairs.py --recipe configs/stage3.real.structural.yaml --seeds 0 --sar-fill-after \
        --json real_pairs_structural_fill_after.json  # a recipe's models, each followed by the fill
    python benchmarks/real_pairs.py --no-train --json benchmarks/real_pairs_baselines.json  # baselines only
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

from axion_terratorch.atomic import atomic_path
from axion_terratorch.callbacks.sar_ablation import ablate_sar
from axion_terratorch.checkpoints.loading import load_model
from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datasets.stage2_errors import ERROR_KINDS, Stage2Errors
from axion_terratorch.evaluation.loop import build_datamodule, iterate_batches
from axion_terratorch.evaluation.tile_scores import score_tiles
from axion_terratorch.functional import psnr_from_mse, squared_error_sum, ssim_per_sample
from axion_terratorch.models import SARFill, SARGuidedFilter, SARRegistration

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "stage3.real.yaml"
TRAINED = ("full", "no-sar")
METHODS = (
    "full",
    "no-sar",
    "wrong-sar",
    "guided",
    "registration",
    "registration-wrong-sar",
    "sar-fill",
    "sar-fill-wrong-sar",
)
#: The training-free groundings (scored alone with ``--no-train``).
BASELINES = ("guided", "registration", "registration-wrong-sar", "sar-fill", "sar-fill-wrong-sar")
KINDS = ("photometric", *ERROR_KINDS, "all")
#: Kinds the SAR can fix, for the targets (content errors are reported, not targeted).
TARGET_KINDS = ("misregistration", "occlusion", "all")
#: Error-mask values above this count as changed pixels.
MASK_THRESHOLD = 0.5
#: A true image's pixel whose visible bands all exceed this reflectance is a cloud of its own
#: (bright and white: the clear test pairs stay below 0.21), not a reference for what lies under it.
REFERENCE_CLOUD_REFLECTANCE = 0.25
#: Pixels the reference's clouds are grown by, to take their thinner rims (Fmask's default dilation).
REFERENCE_CLOUD_DILATION = 3


def run_config(
    work: Path, variant: str, seed: int, max_steps: int | None, overrides: list[str], recipe: Path = RECIPE
) -> Path:
    """The recipe with every output under ``work``, seeded, with the SAR ablation for ``no-sar``.

    ``overrides`` are ``dotted.key=YAML value`` strings.
    """
    config = yaml.safe_load(recipe.read_text())
    for override in overrides:
        key, _, value = override.partition("=")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    config["seed_everything"] = seed
    trainer = config["trainer"]
    trainer["default_root_dir"] = str(work)
    if variant == "no-sar":
        trainer["callbacks"].append(
            {"class_path": "axion_terratorch.callbacks.SARAblation", "init_args": {"mode": "mean"}}
        )
    if max_steps is not None:
        trainer["max_steps"] = max_steps
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train(config: Path) -> float:
    """``terratorch fit -c config`` from the checkout root; its wall time in seconds."""
    start = time.perf_counter()
    terratorch = Path(sys.executable).with_name("terratorch")
    subprocess.run([str(terratorch), "fit", "-c", str(config)], cwd=REPO, check=True)
    return time.perf_counter() - start


def errors_of(kind: str) -> dict[str, Any] | None:
    """The ``tiles.stage2_errors`` config of an error kind (``None``: the photometric proxy alone)."""
    if kind == "photometric":
        return None
    errors = Stage2Errors.only(*ERROR_KINDS) if kind == "all" else Stage2Errors.only(kind)
    return dataclasses.asdict(errors)


def held_out(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(split, label, data config)`` of the held-out sets: validation, the recipe's test split, and
    each SSL4EO-S12 test source again at the other processing level (Level-1C for ``s2a``)."""
    yield "val", "recipe", data
    yield "test", "recipe", data
    for source in data["init_args"]["sources"]:
        args = source["init_args"]
        if source["class_path"].endswith("SSL4EOS12PairDataModule") and "test" in args.get("split_files", {}):
            other = copy.deepcopy(data)
            level = "s2c" if args.get("s2_level", "s2a") == "s2a" else "s2a"
            other["init_args"]["sources"] = [copy.deepcopy(source)]
            other["init_args"]["sources"][0]["init_args"]["s2_level"] = level
            yield "test", f"ssl4eo-{level}", other


def reference_clouds(
    target: torch.Tensor, bands: tuple[str, ...], dilation: int = REFERENCE_CLOUD_DILATION
) -> torch.Tensor:
    """``(B, 1, H, W)``: where the true image ``target`` is itself clouded (its visible bands all above
    :data:`REFERENCE_CLOUD_REFLECTANCE`, grown by ``dilation`` px)."""
    visible = [bands.index(band) for band in ("B02", "B03", "B04") if band in bands]
    bright = target[:, visible].amin(dim=1, keepdim=True) > REFERENCE_CLOUD_REFLECTANCE
    return F.max_pool2d(bright.float(), 2 * dilation + 1, stride=1, padding=dilation) > 0


def fidelity(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> tuple[float, float]:
    """PSNR (dB) and SSIM of one tile against its target over ``mask`` (NaN when it is empty)."""
    if mask is not None and not mask.any():
        return math.nan, math.nan
    sse, count = squared_error_sum(output, target, mask)
    return float(psnr_from_mse(sse / count)), float(ssim_per_sample(output, target, mask)[0])


def meets_no_harm(psnr_gain: float, excess: float, half_gap: float, quality_flag: str) -> bool:
    """The issue's no-harm criterion for one tile under the photometric proxy: PSNR at most 0.1 dB
    below the input's, the SAR agreement excess within half the input-to-truth gap, and the check
    passes the output."""
    return psnr_gain >= -0.1 and excess <= half_gap and quality_flag == "production"


def score_batch(
    outputs: dict[str, torch.Tensor],
    batch: dict[str, Any],
    bands: tuple[str, ...],
    photometric: bool,
    score_reference_clouds: bool = False,
    cloud_dilation: int = REFERENCE_CLOUD_DILATION,
) -> list[dict[str, Any]]:
    """Per tile and method: fidelity over the tile and inside the error mask, as gains over the input,
    on the pixels where the true image is clear (all valid ones with ``score_reference_clouds``; its
    clouds grown by ``cloud_dilation`` px)."""
    optical, sar = batch["image"][OPTICAL_KEY], batch["image"][SAR_KEY]
    target, valid = batch["target"], batch["valid_mask"]
    clouds = reference_clouds(target, bands, cloud_dilation) & valid
    if not score_reference_clouds:
        valid = valid & ~clouds
    errors = batch["error_mask"] > MASK_THRESHOLD
    no_harm = (
        score_tiles(outputs["full"], optical, sar, bands, target, valid)
        if photometric and "full" in outputs
        else None
    )
    rows = []
    for i, name in enumerate(batch["filename"]):
        tile = slice(i, i + 1)
        inside = valid[tile] & errors[tile]
        base_tile = fidelity(optical[tile], target[tile], valid[tile])
        base_mask = fidelity(optical[tile], target[tile], inside)
        row: dict[str, Any] = {
            "tile": name,
            "error_fraction": float(inside.float().mean()),
            "reference_cloud_fraction": float(clouds[tile].float().mean()),
        }
        for method, output in outputs.items():
            psnr, ssim = fidelity(output[tile], target[tile], valid[tile])
            psnr_mask, ssim_mask = fidelity(output[tile], target[tile], inside)
            row[method] = {
                "psnr_gain": psnr - base_tile[0],
                "ssim_gain": ssim - base_tile[1],
                "psnr_gain_mask": psnr_mask - base_mask[0],
                "ssim_gain_mask": ssim_mask - base_mask[1],
            }
        if no_harm is not None:
            scores = no_harm[i]
            gap = abs(scores["sar_agreement_target"] - scores["sar_agreement_input"])
            row["no_harm"] = {
                "psnr_gain": scores["psnr_gain"],
                "sar_agreement_excess": scores["sar_agreement_excess"],
                "sar_agreement_excess_input": max(
                    0.0, scores["sar_agreement_input"] - scores["sar_agreement_target"]
                ),
                "half_gap": 0.5 * gap,
                "quality_flag": scores["quality_flag"],
                "met": meets_no_harm(
                    scores["psnr_gain"], scores["sar_agreement_excess"], 0.5 * gap, scores["quality_flag"]
                ),
            }
        rows.append(row)
    return rows


class Methods:
    """The groundings the benchmark compares: the training-free baselines and, given the ``full`` and
    ``no-sar`` checkpoints of one seed, the trained models (with ``fill_after``, their SAR fill on)."""

    def __init__(
        self, checkpoints: dict[str, Path] | None, bands: tuple[str, ...], fill_after: bool = False
    ) -> None:
        self.full = None if checkpoints is None else load_model(checkpoints["full"]).eval()
        self.no_sar = None if checkpoints is None else load_model(checkpoints["no-sar"]).eval()
        self.bands = bands if self.full is None else self.full.bands
        self.baselines = {
            "guided": SARGuidedFilter(self.bands),
            "registration": SARRegistration(self.bands),
            "sar-fill": SARFill(self.bands),
        }
        for model in (self.full, self.no_sar):
            if fill_after and model is not None:
                model.sar_fill = SARFill(model.bands)  # the residual model's own last step

    def __call__(self, image: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{method: output}`` for one batch's ``image``."""
        sar = image[SAR_KEY]
        outputs = {}
        if self.full is not None and self.no_sar is not None:
            outputs = {
                "full": self.full(image),
                "no-sar": self.no_sar({**image, SAR_KEY: ablate_sar(sar, "mean")}),
                "wrong-sar": self.full({**image, SAR_KEY: sar.rot90(2, dims=(-2, -1))}),
            }
        outputs |= {name: baseline(image) for name, baseline in self.baselines.items()}
        wrong = {**image, SAR_KEY: sar.rot90(2, dims=(-2, -1))}
        return outputs | {
            "registration-wrong-sar": self.baselines["registration"](wrong),
            "sar-fill-wrong-sar": self.baselines["sar-fill"](wrong),
        }


def score_seed(
    checkpoints: dict[str, Path] | None,
    config: Path,
    seed: int | None,
    draws: list[int],
    kinds: list[str],
    fill_after: bool = False,
    score_reference_clouds: bool = False,
    cloud_dilation: int = REFERENCE_CLOUD_DILATION,
) -> list[dict]:
    """Rows of every held-out tile, kind and draw for the ``full`` and ``no-sar`` checkpoints of one seed
    (``None``: the training-free baselines alone), each followed by the SAR fill with ``fill_after``,
    scored on the pixels where the true image is clear (all with ``score_reference_clouds``; its clouds
    grown by ``cloud_dilation`` px)."""
    settings = yaml.safe_load(config.read_text())
    methods = Methods(checkpoints, tuple(settings["data"]["init_args"]["tiles"]["bands"]), fill_after)
    rows = []
    for split, label, data in held_out(settings["data"]):
        for kind in kinds:
            for draw in draws:
                data = copy.deepcopy(data)
                data["init_args"]["tiles"]["seed"] = 1000 + draw  # the recipe trains and selects with 0
                data["init_args"]["tiles"]["stage2_errors"] = errors_of(kind)
                data["init_args"]["tiles"]["eval_stage2_errors"] = True  # the held-out tiles get them
                datamodule = build_datamodule({"data": data})
                with torch.inference_mode():
                    for batch in iterate_batches(datamodule, split, torch.device("cpu")):
                        outputs = methods(batch["image"])
                        photometric = kind == "photometric"
                        for row in score_batch(
                            outputs, batch, methods.bands, photometric, score_reference_clouds, cloud_dilation
                        ):
                            rows.append(
                                {
                                    "seed": seed,
                                    "split": split,
                                    "set": label,
                                    "kind": kind,
                                    "draw": draw,
                                    **row,
                                }
                            )
    return rows


def spread(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation, minimum and count of the finite ``values``."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "n": 0}
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return {"mean": statistics.fmean(finite), "std": std, "min": min(finite), "n": len(finite)}


def methods_of(rows: list[dict]) -> tuple[str, ...]:
    """The methods every row scores (earlier JSONs lack the newer baselines)."""
    return tuple(m for m in METHODS if all(m in r for r in rows))


def summarize(rows: list[dict]) -> dict[str, Any]:
    """Per kind: each method's gains and the full model's margins, over test pairs, draws and seeds."""
    summary: dict[str, Any] = {}
    test = [r for r in rows if r["split"] == "test"]
    methods = methods_of(test)
    for kind in sorted({r["kind"] for r in test}, key=KINDS.index):
        kind_rows = [r for r in test if r["kind"] == kind]
        entry: dict[str, Any] = {}
        for metric in ("psnr_gain", "psnr_gain_mask", "ssim_gain", "ssim_gain_mask"):
            entry[metric] = {m: spread([r[m][metric] for r in kind_rows]) for m in methods}
            if "full" in methods:
                entry[f"{metric}_margin"] = {
                    f"full - {m}": spread([r["full"][metric] - r[m][metric] for r in kind_rows])
                    for m in methods[1:]
                }
        summary[kind] = entry
        if "full" not in methods:
            continue
        pairs = sorted({(r["set"], r["tile"]) for r in kind_rows})
        entry["beats_guided_per_pair"] = {
            f"{label}/{tile}": statistics.fmean(
                r["full"]["psnr_gain"] - r["guided"]["psnr_gain"]
                for r in kind_rows
                if (r["set"], r["tile"]) == (label, tile)
            )
            > 0
            for label, tile in pairs
        }
    return summary


def no_harm_failures(rows: list[dict]) -> dict[str, Any]:
    """How many photometric cases fail no-harm, and of those, how many fail only on an agreement excess
    the unchanged input has already, at least as large (the output added none)."""
    scored = [r["no_harm"] for r in rows if "no_harm" in r]
    failed = [s for s in scored if not s["met"]]
    return {
        "cases": len(scored),
        "failed": len(failed),
        "failed_only_on_an_excess_the_input_has": sum(
            meets_no_harm(s["psnr_gain"], 0.0, s["half_gap"], s["quality_flag"])
            and s.get("sar_agreement_excess_input", 0.0) >= s["sar_agreement_excess"]
            for s in failed
        ),
    }


def targets(rows: list[dict], summary: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets, measured on the test split (none without the trained models)."""
    test = [r for r in rows if r["split"] == "test"]
    if "full" not in methods_of(test):
        return {}
    met = {"no_harm_every_pair_and_draw": all(r["no_harm"]["met"] for r in test if "no_harm" in r)}
    for kind in TARGET_KINDS:
        if kind not in summary:
            continue
        entry = summary[kind]
        for other in ("no-sar", "wrong-sar"):
            mask = entry["psnr_gain_mask_margin"][f"full - {other}"]["mean"]
            tile = entry["psnr_gain_margin"][f"full - {other}"]["mean"]
            met[f"{kind}: beats {other} by 1.0 dB in the mask and 0.3 dB over the tile"] = (
                mask >= 1.0 and tile >= 0.3
            )
        met[f"{kind}: beats the guided filter on every pair"] = all(entry["beats_guided_per_pair"].values())
    return met


def print_tables(summary: dict[str, Any], met: dict[str, bool], no_harm: dict[str, Any]) -> None:
    """Mean +- std of each method's gains per kind, the no-harm failures, then the targets."""
    for metric in ("psnr_gain", "psnr_gain_mask", "ssim_gain", "ssim_gain_mask"):
        print(f"\n{metric} (test pairs x draws x seeds: mean +- std)")
        methods = [m for m in METHODS if m in next(iter(summary.values()))[metric]]
        print(f"{'kind':16s}" + "".join(f"{m:>20s}" for m in methods))
        for kind, entry in summary.items():
            cells = "".join(
                f"{entry[metric][m]['mean']:>+12.3f} +- {entry[metric][m]['std']:<5.3f}" for m in methods
            )
            print(f"{kind:16s}{cells}")
    if no_harm["cases"]:
        print(
            f"\nno-harm: {no_harm['failed']} of {no_harm['cases']} cases fail, "
            f"{no_harm['failed_only_on_an_excess_the_input_has']} of them only on an agreement excess "
            "the unchanged input has, at least as large"
        )
    print("\ntargets")
    for name, ok in met.items():
        print(f"  {'met' if ok else 'NOT met':8s} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--recipe", type=Path, default=RECIPE, help="the run config trained (default: the real recipe)"
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / "outputs" / "benchmark_real_pairs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="training seeds")
    parser.add_argument("--draws", nargs="+", type=int, default=[0, 1, 2, 3, 4], help="error draws per pair")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--max-steps", type=int, help="override the recipe's trainer.max_steps")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key"
    )
    parser.add_argument("--reuse", action="store_true", help="score earlier runs instead of training")
    parser.add_argument(
        "--sar-fill-after",
        action="store_true",
        help="score the trained (residual) models with their SAR fill on (sar_fill), each given its own SAR",
    )
    parser.add_argument(
        "--score-reference-clouds",
        action="store_true",
        help="score the pixels where the true image is itself clouded too (default: only its clear ones)",
    )
    parser.add_argument(
        "--reference-cloud-dilation",
        type=int,
        default=REFERENCE_CLOUD_DILATION,
        metavar="PX",
        help=f"pixels a true image's own clouds are grown by before they are left out (default {REFERENCE_CLOUD_DILATION})",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help=f"score only the training-free baselines ({', '.join(BASELINES)}) on the recipe's held-out pairs",
    )
    parser.add_argument(
        "--rows-from",
        nargs="+",
        type=Path,
        default=[],
        help="summarize the rows of earlier JSONs (e.g. one per seed, run side by side) instead of running",
    )
    parser.add_argument("--json", type=Path, help="write the rows, summary and run facts here")
    args = parser.parse_args()
    rows, runs = [], {}
    for earlier in args.rows_from:
        result = json.loads(earlier.read_text())
        rows += result["rows"]
        runs |= result["runs"]
    if args.no_train and not args.rows_from:
        config = run_config(args.work_dir / "baselines", "full", 0, args.max_steps, args.set, args.recipe)
        rows += score_seed(
            None,
            config,
            None,
            args.draws,
            args.kinds,
            score_reference_clouds=args.score_reference_clouds,
            cloud_dilation=args.reference_cloud_dilation,
        )
    for seed in [] if args.rows_from or args.no_train else args.seeds:
        best = {}
        for variant in TRAINED:
            work = args.work_dir / f"{variant}-seed{seed}"
            config = run_config(work, variant, seed, args.max_steps, args.set, args.recipe)
            reuse = args.reuse and (work / "checkpoints" / "last.ckpt").is_file()
            seconds = None if reuse else train(config)
            best[variant] = next(iter(sorted((work / "checkpoints").glob("best-*.ckpt"))))
            runs[f"{variant}-seed{seed}"] = {"train_seconds": seconds, "best_checkpoint": best[variant].name}
        config = args.work_dir / f"full-seed{seed}" / "config.yaml"
        rows += score_seed(
            best,
            config,
            seed,
            args.draws,
            args.kinds,
            args.sar_fill_after,
            args.score_reference_clouds,
            args.reference_cloud_dilation,
        )
    summary = summarize(rows)
    met = targets(rows, summary)
    no_harm = no_harm_failures([r for r in rows if r["split"] == "test"])
    print_tables(summary, met, no_harm)
    for name, facts in runs.items():
        took = "reused" if facts["train_seconds"] is None else f"trained in {facts['train_seconds']:.0f} s"
        print(f"{name}: {took}, selected {facts['best_checkpoint']}")
    if args.json:
        result = {
            "recipe": str(args.recipe.resolve().relative_to(REPO)),
            "max_steps": args.max_steps,
            "overrides": args.set,
            "sar_fill_after": args.sar_fill_after,
            "score_reference_clouds": args.score_reference_clouds,
            "reference_cloud_dilation": args.reference_cloud_dilation,
            "runs": runs,
            "summary": summary,
            "targets": met,
            "no_harm": no_harm,
            "rows": rows,
        }
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
