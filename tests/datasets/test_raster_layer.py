"""The one raster-input layer: training readers and ``predict``/``check`` read a file the same way.

Band names (``datasets.bands``), units and their plausibility (``datasets.units``), nodata, grids and
truncation (``datasets.raster``) are shared; ``datasets.scene_inputs.SceneInputs`` only reads windows.
"""

import numpy as np
import pytest
import rasterio
from inference.scene_data import BANDS, scene_arrays, write_raster
from rasterio.crs import CRS

from axion_terratorch.datasets import BadTileError, TileOptions
from axion_terratorch.datasets.folder import GeoTiffPairDataset, find_tiles
from axion_terratorch.datasets.raster import Grid, read_header
from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.tiling import Window

SIZE = 48


def write_scene(folder, sar, optical, optical_descriptions=None, nodata=None):
    """``a_S1.tif`` / ``a_S2.tif``: the names the training reader's default patterns match."""
    folder.mkdir(parents=True, exist_ok=True)
    s1 = write_raster(folder / "a_S1.tif", sar, ["VV", "VH"])
    s2 = write_raster(folder / "a_S2.tif", optical, optical_descriptions or list(BANDS), nodata=nodata)
    return s1, s2


def read_both(folder, s1, s2, s2_scale=10000.0):
    """The pair through the training reader (``s2_scale`` set, as a data config does) and through the
    predict reader (``auto`` units), one whole-scene window."""
    tiles, _ = find_tiles(folder, r"(?P<tile>.+)_S1\.tif", r"(?P<tile>.+)_S2\.tif")
    options = TileOptions(tile_size=None, stage2_proxy=True, bands=BANDS, s2_scale=s2_scale)
    sample = GeoTiffPairDataset(tiles, options)[0]
    scene = SceneInputs(s1, s2, BANDS)
    with scene.open() as reader:
        sar, optical, sar_valid, optical_valid = reader.read(Window(0, 0, SIZE, SIZE))
    return sample, scene, (sar, optical, sar_valid & optical_valid)


@pytest.mark.parametrize(
    ("sar_units", "optical_units"),
    [("dB", "uint16 DN"), ("linear power", "float32 DN"), ("linear power", "float32 reflectance")],
)
def test_training_and_predict_readers_agree_on_units(tmp_path, sar_units, optical_units):
    sar_db, reflectance = scene_arrays(SIZE, SIZE)
    sar = 10 ** (sar_db / 10) if sar_units == "linear power" else sar_db
    optical = {
        "uint16 DN": np.rint(reflectance * 10000).astype(np.uint16),
        "float32 DN": (reflectance * 10000).astype(np.float32),
        "float32 reflectance": reflectance,
    }[optical_units]
    s1, s2 = write_scene(tmp_path, sar.astype(np.float32), optical)
    scale = 1.0 if optical_units == "float32 reflectance" else 10000.0
    sample, scene, (sar_read, optical_read, valid) = read_both(tmp_path, s1, s2, scale)
    assert scene.sar.linear_power == (sar_units == "linear power")
    assert scene.optical.scale == scale
    mask = sample["valid_mask"][0].numpy()
    assert np.array_equal(mask, valid)
    np.testing.assert_allclose(sar_read[:, valid], sample["image"]["S1GRD"].numpy()[:, mask], rtol=1e-5)
    np.testing.assert_allclose(optical_read[:, valid], sample["target"].numpy()[:, mask], rtol=1e-5)
    np.testing.assert_allclose(sar_read[:, valid], sar_db[:, valid], atol=1e-3)


def test_both_readers_take_0_as_optical_nodata_when_the_file_declares_none(tmp_path):
    sar, reflectance = scene_arrays(SIZE, SIZE)
    dn = np.rint(reflectance * 10000).astype(np.uint16)
    dn[:, :, :8] = 0
    s1, s2 = write_scene(tmp_path, sar, dn)
    sample, _, (_, _, valid) = read_both(tmp_path, s1, s2)
    assert not valid[:, :8].any()
    assert np.array_equal(sample["valid_mask"][0].numpy(), valid)


def test_band_names_are_normalised_by_one_function(tmp_path):
    sar, reflectance = scene_arrays(SIZE, SIZE)
    dn = np.rint(reflectance[::-1] * 10000).astype(np.uint16)
    s1, s2 = write_scene(tmp_path, sar, dn, ["b8", "B4", "b03", "B02"])
    sample, scene, (_, optical, valid) = read_both(tmp_path, s1, s2)
    assert scene.optical.indexes == (4, 3, 2, 1)
    np.testing.assert_allclose(optical[:, valid], sample["target"].numpy()[:, valid], rtol=1e-6)
    np.testing.assert_allclose(optical[:, valid], reflectance[:, valid], atol=1e-4)


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("amplitude", r"a_S1\.tif bands VV, VH: Sentinel-1 median 350 is neither backscatter in dB"),
        (
            "dn as reflectance",
            r"a_S2\.tif band B0\d: .*look like DN: set optical_units \(--optical-units\) to dn",
        ),
        ("all zero", r"a_S2\.tif holds no valid pixel .*nodata=0\.0 \(assumed: the file declares none\)"),
        ("reflectance as dn", r"a_S2\.tif: .*look like reflectance already: set optical_units"),
    ],
)
def test_implausible_units_are_refused_naming_the_file_band_and_fix(tmp_path, case, match):
    sar, reflectance = scene_arrays(SIZE, SIZE)
    dn = np.rint(reflectance * 10000).astype(np.uint16)
    units = "auto"
    match case:
        case "amplitude":
            sar = np.full_like(sar, 350.0)
        case "dn as reflectance":
            units = "reflectance"
        case "all zero":
            dn = np.zeros_like(dn)
        case "reflectance as dn":
            dn, units = reflectance / 10000, "dn"
    s1, s2 = write_scene(tmp_path, sar, dn)
    with pytest.raises(SceneInputError, match=match):
        SceneInputs(s1, s2, BANDS, optical_units=units)


def test_truncated_pixel_data_is_refused_by_both_readers(tmp_path):
    sar, reflectance = scene_arrays(256, 256)
    profile = {"tiled": True, "blockxsize": 64, "blockysize": 64}
    path = tmp_path / "a_S2.tif"
    write_raster(tmp_path / "plain.tif", reflectance)
    with (
        rasterio.open(tmp_path / "plain.tif") as src,
        rasterio.open(path, "w", **{**src.profile, **profile}) as dst,
    ):
        dst.write(src.read())
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.7)])
    with pytest.raises(BadTileError, match=r"a_S2\.tif: truncated: band \d, block"):
        read_header(path)
    s1 = write_raster(tmp_path / "a_S1.tif", sar, ["VV", "VH"])
    with pytest.raises(SceneInputError, match=r"a_S2\.tif: truncated"):
        SceneInputs(s1, path, BANDS, optical_bands=list(BANDS))


def test_grid_difference_names_what_differs():
    base = Grid(CRS.from_epsg(32633), rasterio.transform.from_origin(0, 0, 10, 10), 4, 4)
    assert base.difference(base) is None
    shifted = Grid(base.crs, rasterio.transform.from_origin(10, 0, 10, 10), 4, 4)
    assert base.difference(shifted).startswith("transform")
    assert base.difference(Grid(base.crs, base.transform, 4, 5)).startswith("size")
    assert base.difference(Grid(CRS.from_epsg(32632), base.transform, 4, 4)).startswith("CRS")
