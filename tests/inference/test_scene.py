import json

import numpy as np
import pytest
import rasterio
import torch
from rasterio.crs import CRS
from rasterio.transform import from_origin
from scene_data import BANDS, PointwiseGrounding, scene_arrays, tiny_model, write_pair, write_raster

from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.scene import GroundingOptions, ground_scene

QUIET = {"progress": False}


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def read(path):
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.descriptions


def ground(model, s1, opt, out, **options):
    ground_scene(model, SceneInputs(s1, opt, BANDS), out, GroundingOptions(**QUIET, **options))
    return read(out)[0]


def test_geotiff_round_trip_keeps_georeferencing_nodata_and_band_names(tmp_path):
    s1, opt = write_pair(tmp_path, 40, 56, nodata=0)
    with rasterio.open(opt) as src:
        data = src.read()
    data[:, :5, :7] = 0  # a nodata corner
    write_raster(opt, data, list(BANDS), nodata=0)
    options = GroundingOptions(window=32, overlap=8, **QUIET)
    sidecar = predict_scene(PointwiseGrounding(), s1, opt, tmp_path / "out.tif", options, lpips=False)
    out, profile, descriptions = read(tmp_path / "out.tif")
    with rasterio.open(opt) as src:
        assert (profile["crs"], profile["transform"]) == (src.crs, src.transform)
        assert (profile["width"], profile["height"], profile["nodata"]) == (src.width, src.height, 0)
    assert profile["dtype"] == "float32"
    assert descriptions == BANDS
    assert (out[:, :5, :7] == 0).all()
    assert (out[:, 5:, 7:] > 0).all()
    np.testing.assert_allclose(out[:, 10:, 10:], data[:, 10:, 10:] / 1e4, rtol=0.11)  # |change| <= 10 %
    assert json.loads((tmp_path / "out.json").read_text()) == sidecar
    assert sidecar["valid_fraction"] == pytest.approx(1 - 35 / (40 * 56))


def test_dn_output_is_uint16_reflectance_times_10000(tmp_path):
    s1, opt = write_pair(tmp_path, 32, 32, dn=False, nodata=None)
    reflectance = ground(PointwiseGrounding(), s1, opt, tmp_path / "r.tif", window=32, overlap=0)
    dn = ground(PointwiseGrounding(), s1, opt, tmp_path / "dn.tif", window=32, overlap=0, dn=True)
    assert dn.dtype == np.uint16
    np.testing.assert_array_equal(dn, np.rint(reflectance * 1e4).astype(np.uint16))
    assert read(tmp_path / "dn.tif")[1]["nodata"] == 0


@pytest.mark.parametrize(
    ("height", "width", "window", "overlap"), [(70, 90, 32, 8), (64, 64, 32, 16), (48, 80, 16, 4)]
)
def test_tiled_blending_equals_one_window_for_a_pointwise_model(tmp_path, height, width, window, overlap):
    s1, opt = write_pair(tmp_path, height, width, dn=False, nodata=None)
    tiled = ground(
        PointwiseGrounding(), s1, opt, tmp_path / "tiled.tif", window=window, overlap=overlap, batch_size=3
    )
    single = ground(PointwiseGrounding(), s1, opt, tmp_path / "one.tif", window=max(height, width), overlap=0)
    np.testing.assert_allclose(tiled, single, atol=1e-6)


def steps(image, axis):
    """Mean absolute step between neighbouring rows (axis 1) or columns (axis 2), over the median step."""
    step = np.abs(np.diff(image, axis=axis)).mean(axis=(0, 3 - axis))
    return step / np.median(step)


def test_scene_larger_than_a_window_is_stitched_without_seams(tmp_path):
    """Blending hides the window edges. The model standardises with fixed statistics here
    (``radiometry="free"``), so the tiled output can be compared with the one-window output; with
    ``preserve`` each window has its own statistics, as the model was trained on tiles."""
    model = tiny_model(radiometry="free")
    s1, opt = write_pair(tmp_path, 64, 64, dn=False, nodata=None)
    with rasterio.open(opt) as src:
        optical = src.read()
    single = ground(model, s1, opt, tmp_path / "one.tif", window=64, overlap=0)
    blended = ground(model, s1, opt, tmp_path / "blend.tif", window=32, overlap=16)
    hard = ground(model, s1, opt, tmp_path / "hard.tif", window=32, overlap=0)
    change = np.abs(single - optical).mean()
    assert change > 1e-3  # the model does change its input
    assert np.abs(blended - single).mean() < 0.15 * change
    # A seam is a step in (tiled - single) where a window ends (between px 31 and 32 for the hard cut).
    edges = np.array([16, 32, 48]) - 1
    for axis in (1, 2):
        blended_steps, hard_steps = steps(blended - single, axis), steps(hard - single, axis)
        assert blended_steps[edges].max() < 1.5
        assert hard_steps[31] > 1.3 * blended_steps[31]


@pytest.mark.parametrize("precision", ["16", "bf16"])
def test_half_precision_is_close_to_float32(tmp_path, model, precision):
    s1, opt = write_pair(tmp_path, 32, 32, dn=False, nodata=None)
    full = ground(model, s1, opt, tmp_path / "full.tif", window=32, overlap=0)
    half = ground(model, s1, opt, tmp_path / "half.tif", window=32, overlap=0, precision=precision)
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, full, atol=0.02)


def test_sar_nodata_keeps_the_input(tmp_path, model):
    s1, opt = write_pair(tmp_path, 32, 32, dn=False, nodata=None)
    sar, optical = scene_arrays(32, 32)
    sar[:, :, :10] = np.nan
    write_raster(s1, sar, ["VV", "VH"])
    out = ground(model, s1, opt, tmp_path / "out.tif", window=32, overlap=0)
    np.testing.assert_array_equal(out[:, :, :10], optical[:, :, :10])
    assert not np.allclose(out[:, :, 10:], optical[:, :, 10:])


def bad_inputs(tmp_path):
    s1, opt = write_pair(tmp_path, 32, 32)
    sar, optical = scene_arrays(32, 32)
    shifted = from_origin(500010.0, 5000000.0, 10.0, 10.0)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    return {
        "grid": (write_raster(tmp_path / "s1_shifted.tif", sar, ["VV", "VH"], transform=shifted), opt),
        "size": (write_raster(tmp_path / "s1_small.tif", sar[:, :16], ["VV", "VH"]), opt),
        "crs": (write_raster(tmp_path / "s1_crs.tif", sar, ["VV", "VH"], crs=CRS.from_epsg(32632)), opt),
        "bands": (s1, write_raster(tmp_path / "opt3.tif", optical[:3], ["B02", "B03", "B04"])),
        "sar bands": (write_raster(tmp_path / "s1_one.tif", sar[:1], ["VV"]), opt),
        "unreadable": (broken, opt),
        "missing": (tmp_path / "nope.tif", opt),
        "nodata": (s1, write_raster(tmp_path / "empty.tif", np.zeros_like(optical), list(BANDS), nodata=0)),
    }


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("grid", "s1_shifted.tif and .*not on the same grid: transform"),
        ("size", "s1_small.tif and .*not on the same grid: size"),
        ("crs", "s1_crs.tif and .*not on the same grid: CRS"),
        ("bands", r"opt3.tif lacks band\(s\) \['B08'\]"),
        ("sar bands", "s1_one.tif: cannot find the Sentinel-1 bands"),
        ("unreadable", "cannot read .*broken.tif"),
        ("missing", "not found: .*nope.tif"),
        ("nodata", "empty.tif holds no valid pixel"),
    ],
)
def test_bad_input_fails_before_anything_is_written(tmp_path, case, match):
    s1, opt = bad_inputs(tmp_path)[case]
    out = tmp_path / "out" / "grounded.tif"
    with pytest.raises(SceneInputError, match=match):
        predict_scene(PointwiseGrounding(), s1, opt, out, GroundingOptions(**QUIET))
    assert not out.parent.exists()


def test_output_may_not_overwrite_an_input(tmp_path):
    s1, opt = write_pair(tmp_path, 32, 32)
    with pytest.raises(ValueError, match="would overwrite the optical input"):
        predict_scene(PointwiseGrounding(), s1, opt, opt, GroundingOptions(**QUIET))


def test_band_names_given_in_file_order_select_and_reorder(tmp_path):
    s1, _ = write_pair(tmp_path, 32, 32)
    _, optical = scene_arrays(32, 32)
    reordered = write_raster(
        tmp_path / "opt.tif", optical[[3, 0, 2, 1]]
    )  # B08, B02, B04, B03, no descriptions
    scene = SceneInputs(s1, reordered, BANDS, optical_bands=["B8", "B2", "B4", "B3"])
    assert scene.optical.indexes == (2, 4, 3, 1)
    with pytest.raises(SceneInputError, match="has 4 band"):
        SceneInputs(s1, reordered, BANDS, optical_bands=["B02"])


def test_sidecar_says_why_lpips_is_missing(tmp_path, monkeypatch):
    # No backbone weights in the torch hub folder: LPIPS is left out, nothing is downloaded.
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    s1, opt = write_pair(tmp_path, 32, 32)
    sidecar = predict_scene(PointwiseGrounding(), s1, opt, tmp_path / "out.tif", GroundingOptions(**QUIET))
    assert sidecar["lpips_change"] is None
    assert "LPIPS left out" in sidecar["lpips_note"]
    assert "--lpips" in sidecar["lpips_note"]
    assert not (tmp_path / "hub").exists()
