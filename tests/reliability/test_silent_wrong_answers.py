"""Issue 22: inputs in the wrong units or with an undeclared nodata are refused with one line naming the
file and the fix (``--optical-nodata``, ``--s1-units``), or read right when the user names them."""

import numpy as np
import pytest
from inference.scene_data import BANDS, scene_arrays, write_raster

from axion_terratorch.cli import main
from axion_terratorch.datasets.scene_bands import SceneInputError
from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.datasets.tiling import Window

SIZE = 32


@pytest.fixture
def arrays():
    return scene_arrays(SIZE, SIZE)


def pair(folder, sar, optical, nodata=None):
    s1 = write_raster(folder / "s1.tif", sar, ["VV", "VH"])
    opt = write_raster(folder / "optical.tif", optical, list(BANDS), nodata=nodata)
    return s1, opt


def read_all(scene: SceneInputs):
    with scene.open() as reader:
        return reader.read(Window(0, 0, SIZE, SIZE))


def check_args(s1, opt, *extra):
    paths = ("--s1", s1, "--optical", opt, "--grounded", opt)
    return ["check", *map(str, paths), "--no-lpips", *extra]


def test_negative_reflectance_beyond_noise_is_refused(tmp_path, arrays, capsys):
    """The reported case: all-negative int16 read as reflectance (mean -1168) or as DN (-0.15)."""
    sar, optical = arrays
    s1, opt = pair(tmp_path, sar, -np.rint(optical * 10000).astype(np.int16))
    for units in ("auto", "dn"):
        with pytest.raises(
            SceneInputError, match=r"optical\.tif band B\w+: 100% of the sampled pixels are below -0\.1"
        ):
            SceneInputs(s1, opt, BANDS, optical_units=units)
    assert main(check_args(s1, opt)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--optical-nodata" in err


def test_dark_water_after_the_l2a_offset_is_noise(tmp_path, arrays):
    sar, optical = arrays
    optical[:, :4] = -0.02  # a strip of dark water with L2A's offset
    s1, opt = pair(tmp_path, sar, optical.astype(np.float32))
    SceneInputs(s1, opt, BANDS)


@pytest.mark.parametrize("sentinel", [-9999, -32768])
def test_an_undeclared_sentinel_nodata_is_refused_or_used_when_named(tmp_path, arrays, sentinel, capsys):
    """The reported case: -9999 over half the scene, no nodata tag: read as -1.0 reflectance, valid."""
    sar, optical = arrays
    dn = np.rint(optical * 10000).astype(np.int16)
    dn[:, : SIZE // 2] = sentinel
    s1, opt = pair(tmp_path, sar, dn)
    with pytest.raises(
        SceneInputError,
        match=rf"optical\.tif: 50\.0% of the sampled pixels are {sentinel} .* pass --optical-nodata {sentinel}",
    ):
        SceneInputs(s1, opt, BANDS)
    assert main(check_args(s1, opt)) == 2
    assert f"--optical-nodata {sentinel}" in capsys.readouterr().err
    _, values, _, valid = read_all(SceneInputs(s1, opt, BANDS, optical_nodata=float(sentinel)))
    assert valid.mean() == 0.5
    assert values[:, valid].min() >= 0


def test_65535_in_unsigned_dn_is_a_sentinel_too(tmp_path, arrays):
    sar, optical = arrays
    dn = np.rint(optical * 10000).astype(np.uint16)
    dn[:, :8] = 65535
    s1, opt = pair(tmp_path, sar, dn)
    with pytest.raises(SceneInputError, match=r"25\.0% of the sampled pixels are 65535"):
        SceneInputs(s1, opt, BANDS)
    s1, opt = pair(tmp_path, sar, dn, nodata=65535)  # declared: fine
    assert read_all(SceneInputs(s1, opt, BANDS))[3].mean() == 0.75


def test_amplitude_sentinel1_is_refused_or_converted_when_named(tmp_path, arrays, capsys):
    """The reported case: linear amplitude taken as power gave half the right dB (agreement 0.484, not 0.663)."""
    sar, optical = arrays
    amplitude = np.sqrt(10 ** (sar / 10)).astype(np.float32)
    s1, opt = pair(tmp_path, amplitude, optical)
    with pytest.raises(
        SceneInputError, match=r"s1\.tif: Sentinel-1 looks like linear amplitude.*--s1-units amplitude"
    ):
        SceneInputs(s1, opt, BANDS)
    assert main(check_args(s1, opt)) == 2
    assert "--s1-units amplitude" in capsys.readouterr().err
    db = read_all(SceneInputs(s1, opt, BANDS, s1_units="amplitude"))[0]
    np.testing.assert_allclose(db, sar, atol=1e-3)


def test_linear_power_and_db_are_still_read_as_before(tmp_path, arrays):
    sar, optical = arrays
    for data in (sar, (10 ** (sar / 10)).astype(np.float32)):
        s1, opt = pair(tmp_path, data, optical)
        np.testing.assert_allclose(read_all(SceneInputs(s1, opt, BANDS))[0], sar, atol=1e-3)
