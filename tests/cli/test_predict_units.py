"""``axion-stage3 predict`` converts or refuses inputs it used to take in the wrong units (issue 13, item 7)."""

import numpy as np
import pytest
import rasterio
from inference.scene_data import BANDS, tiny_model, write_checkpoint, write_pair, write_raster

from axion_terratorch.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_checkpoint(tiny_model(), tmp_path_factory.mktemp("model") / "model.ckpt")


def predict(checkpoint, s1, optical, output, *extra):
    args = ["predict", "--checkpoint", str(checkpoint), "--s1", str(s1), "--optical", str(optical)]
    return main(
        [*args, "--output", str(output), "--window", "32", "--overlap", "8", "--quiet", "--no-lpips", *extra]
    )


def read(path):
    with rasterio.open(path) as src:
        return src.read()


def test_sentinel1_in_linear_power_is_converted_to_db(tmp_path, checkpoint, capsys):
    s1_db, optical = write_pair(tmp_path, 40, 40)
    linear = tmp_path / "s1_linear.tif"
    write_raster(linear, (10 ** (read(s1_db) / 10)).astype(np.float32), ["VV", "VH"])
    assert predict(checkpoint, s1_db, optical, tmp_path / "from_db.tif") == 0
    assert predict(checkpoint, linear, optical, tmp_path / "from_linear.tif") == 0
    np.testing.assert_allclose(read(tmp_path / "from_linear.tif"), read(tmp_path / "from_db.tif"), atol=1e-4)


def test_float_optical_in_dn_is_converted_or_refused_naming_file_and_band(tmp_path, checkpoint, capsys):
    s1, optical = write_pair(tmp_path, 40, 40, dn=False)  # float32 reflectance
    float_dn = tmp_path / "optical_float_dn.tif"
    write_raster(float_dn, read(optical) * 10000, list(BANDS), nodata=0)
    assert predict(checkpoint, s1, optical, tmp_path / "from_reflectance.tif") == 0
    assert predict(checkpoint, s1, float_dn, tmp_path / "from_dn.tif") == 0  # auto: judged from the values
    from_dn = read(tmp_path / "from_dn.tif")
    assert from_dn.max() < 2  # reflectance, not DN (values up to 3069 before)
    np.testing.assert_allclose(from_dn, read(tmp_path / "from_reflectance.tif"), atol=1e-4)
    capsys.readouterr()
    code = predict(checkpoint, s1, float_dn, tmp_path / "refused.tif", "--optical-units", "reflectance")
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    assert "optical_float_dn.tif band B0" in err
    assert "look like DN: set optical_units (--optical-units) to dn or auto" in err
    assert not (tmp_path / "refused.tif").exists()


def test_all_zero_uint16_optical_without_nodata_tag_is_refused(tmp_path, checkpoint, capsys):
    s1, _ = write_pair(tmp_path, 40, 40)
    zeros = write_raster(tmp_path / "zeros.tif", np.zeros((4, 40, 40), np.uint16), list(BANDS))
    assert predict(checkpoint, s1, zeros, tmp_path / "out.tif") == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert "zeros.tif holds no valid pixel in bands" in err
    assert "nodata=0.0 (assumed: the file declares none)" in err
    assert not (tmp_path / "out.tif").exists()
