"""Sentinel-1 dB detection and Sentinel-2 reflectance scaling."""

import logging

import numpy as np
import pytest

from axion_terratorch.datasets import BadTileError
from axion_terratorch.datasets.units import dn_to_reflectance, is_linear_power, sar_to_db


def test_db_passes_through_unchanged():
    sar = np.array([[[-12.5, -3.0]], [[-20.0, np.nan]]], dtype=np.float32)
    assert np.array_equal(sar_to_db(sar, "s1.tif"), sar, equal_nan=True)


def test_linear_power_is_detected_converted_and_logged(caplog):
    linear = np.array([[[0.1, 0.01]], [[0.001, 0.0]]], dtype=np.float32)
    assert is_linear_power(linear)
    with caplog.at_level(logging.INFO):
        db = sar_to_db(linear, "tile_S1.tif")
    assert np.allclose(db[0, 0], [-10, -20])
    assert db[1, 0, 0] == pytest.approx(-30)
    assert np.isnan(db[1, 0, 1])  # zero power is nodata
    assert "tile_S1.tif" in caplog.text
    assert "linear power" in caplog.text


def test_amplitude_dn_is_rejected_naming_the_file():
    with pytest.raises(BadTileError, match=r"s1_amp\.tif.*neither backscatter in dB"):
        sar_to_db(np.full((2, 4, 4), 350.0, np.float32), "s1_amp.tif")


def test_dn_to_reflectance_with_scale_and_offset():
    dn = np.array([[[1000.0, 3000.0]]], dtype=np.float32)
    assert np.allclose(dn_to_reflectance(dn, 10000, 0, "s2"), [0.1, 0.3])
    assert np.allclose(dn_to_reflectance(dn + 1000, 10000, -1000, "s2"), [0.1, 0.3])


def test_reflectance_scaled_twice_or_not_at_all_is_rejected_naming_the_file():
    with pytest.raises(BadTileError, match=r"a_S2\.tif.*set the scale to 1"):
        dn_to_reflectance(np.full((1, 4, 4), 0.3, np.float32), 10000, 0, "a_S2.tif")
    with pytest.raises(BadTileError, match=r"b_S2\.tif.*look like DN"):
        dn_to_reflectance(np.full((1, 4, 4), 3000.0, np.float32), 1, 0, "b_S2.tif")
