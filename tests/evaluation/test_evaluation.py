import csv
import json
import math

import numpy as np
import pytest
import torch
from inference.scene_data import tiny_model
from scipy import stats
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    spectral_angle_mapper,
    structural_similarity_index_measure,
)

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.evaluation.comparison import paired_comparison, read_tiles_csv
from axion_terratorch.evaluation.loop import (
    IdentityGrounding,
    build_datamodule,
    iterate_batches,
    summarise,
)
from axion_terratorch.evaluation.report import write_report
from axion_terratorch.evaluation.tile_scores import copy_of_sar_ratio, score_tiles
from axion_terratorch.functional import luminance, sar_agreement
from axion_terratorch.inference.quality import check_tiles
from axion_terratorch.lpips import LPIPSDistance

DATA = {
    "class_path": "axion_terratorch.datamodules.SyntheticGroundingDataModule",
    "init_args": {"num_train": 1, "num_val": 1, "num_test": 5, "tile_size": 32, "batch_size": 2, "seed": 3},
}


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def batches(split="test"):
    return lambda: iterate_batches(build_datamodule(DATA), split, torch.device("cpu"))


def test_build_datamodule_accepts_a_section_or_a_whole_run_config(tmp_path):
    assert isinstance(build_datamodule(DATA), SyntheticGroundingDataModule)
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"trainer": {}, "data": DATA}))
    assert isinstance(build_datamodule(config), SyntheticGroundingDataModule)
    with pytest.raises(ValueError, match="no data module class_path"):
        build_datamodule({"trainer": {}})
    with pytest.raises(ValueError, match="num_tests"):
        build_datamodule({"class_path": DATA["class_path"], "init_args": {"num_tests": 2}})


def test_copy_of_sar_ratio_matches_correlations():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(1, 4, 16, 16, generator=gen) * 0.3
    sar = torch.randn(1, 2, 16, 16, generator=gen) - 12
    output = 0.7 * target + 0.3 * torch.rand(1, 4, 16, 16, generator=gen) * 0.3
    lum_out, lum_target = (luminance(x).flatten().numpy() for x in (output, target))
    r_sar = np.corrcoef(lum_out, sar.mean(dim=1).flatten().numpy())[0, 1]
    r_target = np.corrcoef(lum_out, lum_target)[0, 1]
    expected = math.sqrt((1 - r_sar) / (1 - r_target))
    assert copy_of_sar_ratio(output, sar, target, ("B02", "B03", "B04", "B08")).item() == pytest.approx(
        expected, rel=1e-4
    )
    # An output whose luminance is the SAR image is a copy: ratio ~ 0.
    copy = sar.mean(dim=1, keepdim=True).expand(1, 4, 16, 16) / 100 + 0.2
    assert copy_of_sar_ratio(copy, sar, target, ("B02", "B03", "B04", "B08")).item() < 1e-3


def test_tile_scores_match_direct_computation(model):
    batch = next(batches()())
    image, target = batch["image"], batch["target"]
    with torch.no_grad():
        output = model(image)
    rows = score_tiles(output, image[OPTICAL_KEY], image[SAR_KEY], model.bands, target)
    for i, row in enumerate(rows):
        tile = slice(i, i + 1)
        before = sar_agreement(image[OPTICAL_KEY][tile], image[SAR_KEY][tile]).item()
        after = sar_agreement(output[tile], image[SAR_KEY][tile]).item()
        assert row["sar_agreement_input"] == pytest.approx(before, abs=1e-6)
        assert row["sar_agreement_gain"] == pytest.approx(after - before, abs=1e-6)
        assert row["improved"] == (after > before)
        assert row["psnr"] == pytest.approx(
            peak_signal_noise_ratio(output[tile], target[tile], data_range=1.0).item(), rel=1e-5
        )
        assert row["ssim"] == pytest.approx(
            structural_similarity_index_measure(output[tile], target[tile], data_range=1.0).item(), rel=1e-5
        )
        assert row["sam"] == pytest.approx(spectral_angle_mapper(output[tile], target[tile]).item(), rel=1e-4)
        assert row["mae"] == pytest.approx((output[tile] - target[tile]).abs().mean().item(), rel=1e-5)
        assert row["lpips_change"] is None
        psnr_input = peak_signal_noise_ratio(image[OPTICAL_KEY][tile], target[tile], data_range=1.0).item()
        assert row["psnr_gain"] == pytest.approx(row["psnr"] - psnr_input, abs=1e-4)
        target_agreement = sar_agreement(target[tile], image[SAR_KEY][tile]).item()
        assert row["sar_agreement_excess"] == pytest.approx(max(0.0, after - target_agreement), abs=1e-6)
        ((*_, verdict),) = check_tiles(
            output[tile], image[OPTICAL_KEY][tile], image[SAR_KEY][tile], model.bands
        )
        assert row["quality_flag"] == verdict.flag


def test_report_files_and_summary_match_the_rows(tmp_path, model):
    summary = write_report(model, batches(), tmp_path, metadata={"checkpoint": "x.ckpt"}, progress=False)
    with (tmp_path / "tiles.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == summary["n_tiles"] == 5
    gains = [float(r["sar_agreement_gain"]) for r in rows]
    assert summary["sar_agreement_gain_mean"] == pytest.approx(np.mean(gains), abs=1e-6)
    assert summary["sar_agreement_gain_median"] == pytest.approx(np.median(gains), abs=1e-6)
    assert summary["share_improved"] == pytest.approx(np.mean([g > 0 for g in gains]))
    assert summary["psnr_mean"] == pytest.approx(np.mean([float(r["psnr"]) for r in rows]), rel=1e-6)
    guard = summary["copy_of_sar_guard"]
    ratios = [float(r["copy_of_sar_ratio"]) for r in rows]
    assert guard["ratio_min"] == pytest.approx(min(ratios))
    assert guard["passed"] == (np.mean(ratios) > 1)
    assert summary["lpips_change_mean"] is None
    assert summary["checkpoint"] == "x.ckpt"
    assert json.loads((tmp_path / "summary.json").read_text())["n_tiles"] == 5
    for label in ("best", "median", "worst"):
        assert (tmp_path / f"panel_{label}.png").stat().st_size > 1000
    best, worst = summary["panels"]["best"]["tile"], summary["panels"]["worst"]["tile"]
    assert gains[best] == max(gains)
    assert gains[worst] == min(gains)


@pytest.mark.slow
def test_identity_baseline_and_paired_comparison(tmp_path, model):
    with pytest.warns(UserWarning, match="randomly initialised backbone"):  # only checks the plumbing
        lpips = LPIPSDistance(model.bands, pretrained_backbone=False)
    baseline = write_report(
        IdentityGrounding(model.bands), batches(), tmp_path / "identity", lpips, progress=False
    )
    assert baseline["sar_agreement_gain_mean"] == 0
    assert baseline["share_improved"] == 0
    assert baseline["lpips_change_mean"] == pytest.approx(0, abs=1e-6)
    assert baseline["lpips_change_share_below"] == 1
    write_report(
        model, batches(), tmp_path / "model", baseline=tmp_path / "identity" / "tiles.csv", progress=False
    )
    comparison = json.loads((tmp_path / "model" / "comparison.json").read_text())["sar_agreement"]
    a = [float(r["sar_agreement"]) for r in read_tiles_csv(tmp_path / "identity" / "tiles.csv")]
    b = [float(r["sar_agreement"]) for r in read_tiles_csv(tmp_path / "model" / "tiles.csv")]
    diff = np.subtract(b, a)
    assert comparison["n"] == 5
    assert comparison["mean_difference"] == pytest.approx(diff.mean())
    assert comparison["cohens_d"] == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert comparison["p_value"] == pytest.approx(stats.ttest_rel(b, a).pvalue)


def test_paired_comparison_matches_a_hand_computed_case():
    a = [{"tile": i, "m": v} for i, v in enumerate([0.1, 0.2, 0.3, 0.4])]
    b = [{"tile": i, "m": v} for i, v in enumerate([0.2, 0.4, 0.4, 0.6])]
    result = paired_comparison(a, b, "m")
    # differences 0.1, 0.2, 0.1, 0.2: mean 0.15, sd sqrt(1/300), t = 0.15 / (sd / 2), d = 0.15 / sd
    sd = math.sqrt(1 / 300)
    assert result["mean_difference"] == pytest.approx(0.15)
    assert result["t_statistic"] == pytest.approx(0.15 / (sd / 2))
    assert result["cohens_d"] == pytest.approx(0.15 / sd)
    with pytest.raises(ValueError, match="no column 'x'"):
        paired_comparison(a, b, "x")
    with pytest.raises(ValueError, match="share 1 tile"):
        paired_comparison(a[:1], b, "m")


def test_summary_without_targets_leaves_target_metrics_empty():
    rows = [
        {
            "tile": 0,
            "sar_agreement_input": 0.1,
            "sar_agreement": 0.2,
            "sar_agreement_gain": 0.1,
            "improved": True,
            "sar_imprint": 0.05,
            "quality_flag": "production",
            "lpips_change": None,
            "copy_of_sar_ratio": None,
            "psnr": None,
        },
        {
            "tile": 1,
            "sar_agreement_input": 0.3,
            "sar_agreement": 0.2,
            "sar_agreement_gain": -0.1,
            "improved": False,
            "sar_imprint": 0.6,
            "quality_flag": "over-grounded",
            "lpips_change": None,
            "copy_of_sar_ratio": None,
            "psnr": None,
        },
    ]
    summary = summarise(rows)
    assert summary["share_improved"] == 0.5
    assert summary["psnr_mean"] is None
    assert summary["psnr_gain_mean"] is None
    assert summary["quality_flags"] == {"production": 1, "over-grounded": 1}
    assert summary["sar_imprint_max"] == 0.6
    assert summary["copy_of_sar_guard"]["passed"] is None
    assert summary["n_tiles_with_target"] == 0
