"""The model-free quality check: calibrated on the real pairs, used by ``check``, ``predict`` and ``evaluate``."""

import json

import numpy as np
import pytest
import rasterio
import torch
from inference.scene_data import BANDS, PointwiseGrounding, scene_arrays, write_pair, write_raster
from torch import nn

from axion_terratorch.cli import main
from axion_terratorch.cli.errors import FLAGGED, verdict_status
from axion_terratorch.cli.predict import verdict_line
from axion_terratorch.functional import smooth
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.quality import QualityCheck, check_tiles
from axion_terratorch.inference.scene import GroundingOptions
from axion_terratorch.metrics.drift import band_drift
from axion_terratorch.metrics.imprint import IMPRINT_SAR_SIGMA, sar_imprint

from run_configs import SHARED_DATA, SHARED_SSL4EO, load_benchmark

#: The SEN12MS-CR example patches beside the checkout (optional, like ``SHARED_DATA``).
SHARED_SEN12MSCR = SHARED_DATA.parent / "sen12mscr_example"
real_data = pytest.mark.skipif(
    not (SHARED_DATA.is_dir() and SHARED_SSL4EO.is_dir() and SHARED_SEN12MSCR.is_dir()),
    reason="real pairs not beside the checkout",
)


@pytest.fixture(scope="module")
def calibration():
    return load_benchmark("quality_check")


class ImprintingGrounding(nn.Module):
    """Adds the smoothed SAR texture to the optical input: a pure imprint, in every window."""

    bands = BANDS

    def forward(self, image: dict[str, torch.Tensor]) -> torch.Tensor:
        texture = smooth(image["S1GRD"].mean(dim=1, keepdim=True), IMPRINT_SAR_SIGMA)
        texture = (texture - texture.mean(dim=(-2, -1), keepdim=True)) / texture.std(
            dim=(-2, -1), keepdim=True
        )
        return image["S2L2A"] + 0.01 * texture


@real_data
@pytest.mark.slow
def test_every_shared_input_and_truth_passes_and_every_imprint_and_drift_is_flagged(calibration):
    """On all shared pairs, both processing levels, with misregistration and clouds in the input.

    The thresholds were tuned on BigEarthNet; the SSL4EO-S12 (L2A and L1C) and SEN12MS-CR (L1C)
    pairs were not used to choose them. The weakest imprint of the calibration (a quarter of the
    input's own texture) and a 10% change of one band are flagged.
    """
    pairs = calibration.all_pairs(band_gain=(1.0, 1.0))
    assert {pair.group for pair in pairs} >= {"bigearthnet-l2a", "ssl4eo-l1c", "sen12mscr-l1c"}
    for pair in pairs:
        optical = calibration.stage2_input(pair, "both")
        for (kind, variant), image in calibration.candidates(pair, {}, (0.25,), optical).items():
            ((*_, verdict),) = check_tiles(image, optical, pair.sar, BANDS)
            if kind in calibration.MUST_PASS:
                assert verdict.flag == "production", (pair.name, kind, verdict.reasons)
            elif kind in calibration.MUST_FLAG:
                assert not verdict.passed, (pair.name, kind, variant, verdict.reasons)


def test_a_uniform_ten_percent_change_of_one_band_is_flagged_and_a_local_one_is_not():
    _, optical = (torch.from_numpy(a)[None] for a in scene_arrays(48, 48))
    darker = optical.clone()
    darker[:, 0] *= 0.9
    assert band_drift(darker, optical)[0].tolist() == pytest.approx([-0.1, 0, 0, 0], abs=2e-3)
    verdict = QualityCheck().verdict(0.3, 0.3, 0.0, 0.0, {"B02": -0.1, "B03": 0.0})
    assert verdict.flag == "preview-only"
    assert "B02 changed by -10.0%" in verdict.reasons[0]
    cleared = optical.clone()
    cleared[..., :16, :16] *= 0.5  # a cloud removed from a ninth of the tile
    assert band_drift(cleared, optical).abs().max().item() == 0


def test_imprint_is_zero_unchanged_and_near_one_for_a_copy_of_the_sar():
    sar, optical = (torch.from_numpy(a)[None] for a in scene_arrays(64, 64))
    assert sar_imprint(optical, optical, sar).item() == 0
    texture = smooth(sar.mean(dim=1, keepdim=True), IMPRINT_SAR_SIGMA)
    copy = optical + 0.01 * (texture - texture.mean()) / texture.std()
    assert sar_imprint(copy, optical, sar).item() > 0.95
    noise = optical + 0.01 * torch.randn(optical.shape, generator=torch.Generator().manual_seed(0))
    assert sar_imprint(noise, optical, sar).item() < 0.1


def test_verdict_reasons_and_thresholds():
    check = QualityCheck()
    assert check.verdict(0.3, 0.3, 0.0, 0.0).passed
    over = check.verdict(0.3, 0.35, 0.9, 0.2)
    assert over.flag == "over-grounded"
    assert "imprint 0.90" in over.reasons[0]
    oriented = check.verdict(0.3, 0.45, 0.1, 0.8)  # an imprint of SAR structure, not of its intensity
    assert oriented.flag == "over-grounded"
    assert "change agreement 0.80" in oriented.reasons[0]
    # A scene whose canal and roads the SAR sees, restored: its change agrees with the SAR (0.60,
    # above the old absolute threshold 0.5) no more than the restored image itself does.
    assert check.verdict(0.55, 0.62, 0.1, 0.6).passed
    assert check.verdict(0.3, 0.7, 0.1, 0.2).flag == "over-grounded"  # far past real images
    assert check.verdict(0.3, 0.1, 0.1, 0.2).flag == "preview-only"  # structure lost
    assert check.verdict(None, None, None, None).flag == "preview-only"
    with pytest.raises(ValueError, match="max_imprint"):
        QualityCheck(max_imprint=2.5)


def _check(tmp_path, grounded, *extra, lpips="--no-lpips"):
    report = tmp_path / "report.json"
    args = ["check", "--s1", str(tmp_path / "s1.tif"), "--optical", str(tmp_path / "optical.tif")]
    code = main(
        [*args, "--grounded", str(grounded), "--json", str(report), *([lpips] if lpips else []), *extra]
    )
    return code, json.loads(report.read_text()) if report.exists() else None


def test_check_cli_passes_the_input_and_flags_a_sar_imprint(tmp_path, capsys, monkeypatch, recwarn):
    write_pair(tmp_path, 96, 80)
    sar, optical = scene_arrays(96, 80)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no LPIPS weights here
    code, report = _check(tmp_path, tmp_path / "optical.tif", lpips=None)
    assert (code, report["quality_flag"], report["sar_imprint"]) == (0, "production", 0.0)
    (note,) = capsys.readouterr().err.splitlines()  # one line, no download, no warning
    assert note.startswith("LPIPS left out")
    assert "--lpips" in note
    assert report["lpips_note"] == note
    assert not [w for w in recwarn.list if "lpips" in str(w.message).lower() or "download" in str(w.message)]
    imprinted = PointwiseGrounding()(
        {"S1GRD": torch.from_numpy(sar)[None], "S2L2A": torch.from_numpy(optical)[None]}
    )
    grounded = write_raster(tmp_path / "grounded.tif", imprinted[0].numpy(), list(BANDS))
    code, report = _check(tmp_path, grounded)
    assert (code, report["quality_flag"]) == (3, "over-grounded")  # FLAGGED, as predict
    assert "over-grounded" in capsys.readouterr().out
    assert report["inputs"]["optical"].endswith("optical.tif")
    assert report["output"].endswith("grounded.tif")


def test_check_report_has_the_fields_of_predicts_sidecar(tmp_path):
    s1, opt = write_pair(tmp_path, 64, 64)
    options = GroundingOptions(window=32, overlap=8, progress=False)
    sidecar = predict_scene(PointwiseGrounding(), s1, opt, tmp_path / "out.tif", options, lpips=False)
    _, report = _check(tmp_path, tmp_path / "out.tif")
    assert report.keys() == sidecar.keys()
    for key in ("sar_agreement", "sar_imprint", "quality_flag"):
        assert report[key] == pytest.approx(sidecar[key], abs=1e-3), key


def test_check_names_the_file_at_fault(tmp_path, capsys):
    write_pair(tmp_path, 32, 32)
    write_raster(tmp_path / "small.tif", np.zeros((4, 16, 16), np.float32), list(BANDS))
    code, report = _check(tmp_path, tmp_path / "small.tif")
    assert (code, report) == (2, None)
    assert "small.tif" in capsys.readouterr().err


def test_predict_flags_an_imprinting_model_and_fallback_writes_the_input(tmp_path):
    s1, opt = write_pair(tmp_path, 64, 64, dn=False)
    options = GroundingOptions(window=32, overlap=8, progress=False)
    sidecar = predict_scene(ImprintingGrounding(), s1, opt, tmp_path / "out.tif", options, lpips=False)
    assert sidecar["quality_flag"] == "over-grounded"
    assert sidecar["fallback_windows"] is None
    safe = GroundingOptions(window=32, overlap=8, progress=False, fallback="input")
    sidecar = predict_scene(ImprintingGrounding(), s1, opt, tmp_path / "safe.tif", safe, lpips=False)
    assert (sidecar["fallback_windows"], sidecar["windows"]) == (9, 9)  # 3 x 3 windows, each an imprint
    assert sidecar["quality_flag"] == "fallback"  # nothing was grounded: not labelled production
    assert verdict_line(sidecar).startswith(
        "fallback: 9 of 9 window(s) fell back to the input, nothing grounded"
    )
    assert verdict_status(sidecar["quality_flag"]) == FLAGGED
    some = {**sidecar, "fallback_windows": 3, "quality_flag": "production", "quality_reasons": []}
    assert verdict_line(some).endswith(", 3 of 9 window(s) fell back to the input")
    assert sidecar["sar_imprint"] < 0.05  # float rounding of the cross-fade only
    with rasterio.open(tmp_path / "safe.tif") as out, rasterio.open(opt) as src:
        np.testing.assert_allclose(out.read(), src.read(), atol=1e-6)
