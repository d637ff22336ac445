"""Wrappers of torchgeo's BigEarthNet, BigEarthNetV2, SEN12MS and SSL4EO-S12."""

import logging

import numpy as np
import pytest
import rasterio
import torch
from tile_writers import scene, write_sen12ms, write_ssl4eo

from axion_terratorch.constants import S2L2A_BANDS, SAR_KEY
from axion_terratorch.datasets import (
    BadTileError,
    BigEarthNetPairs,
    GeoTiffPairDataset,
    SEN12MSPairs,
    SSL4EOS12Pairs,
    TileOptions,
    find_tiles,
)
from axion_terratorch.datasets.bigearthnet import split_bigearthnet_v2
from axion_terratorch.datasets.ssl4eo import pair_seasons

from run_configs import SHARED_DATA, SHARED_SSL4EO

needs_bigearthnet = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="BigEarthNet v1 example not present")
FULL = TileOptions(stage2_proxy=True, tile_size=None, bands=S2L2A_BANDS)


def read(path):
    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


@needs_bigearthnet
def test_bigearthnet_v1_pairs_are_vv_vh_in_db_and_l2a_reflectance():
    ds = BigEarthNetPairs(SHARED_DATA, "train", FULL)
    assert len(ds) == 3
    folders = ds.dataset.folders[0]
    s1_name = folders["s1"].rsplit("/", 1)[1]
    s2_name = folders["s2"].rsplit("/", 1)[1]
    sample = ds[0]
    sar = sample["image"][SAR_KEY].numpy()
    for channel, pol in enumerate(("VV", "VH")):
        # torchgeo reads int32: dB rounded to whole numbers, in VV, VH order after our fix.
        assert np.abs(sar[channel] - read(f"{folders['s1']}/{s1_name}_{pol}.tif")).max() <= 0.5
    assert -25 < sar[0].mean() < -5
    assert sar[1].mean() < sar[0].mean()
    b04 = read(f"{folders['s2']}/{s2_name}_B04.tif") / 10000
    assert np.allclose(sample["target"][S2L2A_BANDS.index("B04")].numpy(), b04)
    assert 0 < float(sample["target"].mean()) < 0.5


@needs_bigearthnet
def test_bigearthnet_v1_agrees_with_the_geotiff_folder_reader():
    tiles, _ = find_tiles(
        SHARED_DATA,
        r"S1[AB]_IW_GRDH_1SDV_\w+?_(?P<tile>\d+_\d+)_(?P<band>VV|VH)\.tif",
        r"S2[AB]_MSIL2A_\w+?_(?P<tile>\d+_\d+)_(?P<band>B\w\w)\.tif",
    )
    folder = GeoTiffPairDataset(tiles, FULL)
    wrapped = BigEarthNetPairs(SHARED_DATA, "val", FULL)
    name = wrapped.names[0].split("_", 3)[-1]  # S2A_MSIL2A_<date>_<tile>
    a, b = wrapped[0], folder[folder.names.index(name)]
    assert (a["image"][SAR_KEY] - b["image"][SAR_KEY]).abs().max() <= 0.5
    assert torch.allclose(a["target"][[1, 2, 3, 7]], b["target"][[1, 2, 3, 7]])  # 10 m bands


def test_bigearthnet_v2_channels_are_reordered_to_vv_vh():
    sample = {
        "image_s1": torch.stack([torch.full((4, 4), -20.0), torch.full((4, 4), -12.0)]),
        "image_s2": torch.zeros(12, 4, 4),
    }
    sar, _, names = split_bigearthnet_v2(sample)
    assert sar[:, 0, 0].tolist() == [-12.0, -20.0]
    assert tuple(names) == S2L2A_BANDS


def test_sen12ms_selects_l1c_bands_by_name_and_says_it_is_l1c(tmp_path, caplog):
    write_sen12ms(tmp_path)
    with caplog.at_level(logging.INFO):
        ds = SEN12MSPairs(
            tmp_path, "train", TileOptions(stage2_proxy=True, tile_size=None, bands=("B09", "B11"))
        )
    assert "Level-1C" in caplog.text
    assert ds.names == ["ROIs1158_spring_lc_1_p1", "ROIs1158_spring_lc_1_p2"]
    sample = ds[0]
    sar, optical = scene(0, 32)
    assert torch.allclose(sample["image"][SAR_KEY], torch.from_numpy(sar))
    # B11 comes from after B10 in the 13-band L1C file (B10 = 50 DN is skipped).
    expected = np.floor(optical[[S2L2A_BANDS.index("B09"), S2L2A_BANDS.index("B11")]]) / 10000
    assert torch.allclose(sample["target"], torch.from_numpy(expected.astype(np.float32)))


def test_ssl4eo_pairs_s1_and_s2_of_the_same_season(tmp_path):
    write_ssl4eo(tmp_path, locations=1)
    ds = SSL4EOS12Pairs(tmp_path, TileOptions(stage2_proxy=True, tile_size=32))
    assert ds.names == [f"0000000_{season}" for season in range(4)]
    for season in range(4):
        sample = ds[season]
        # Season k: VV = -20 + k dB and every S2 band 1000 * (k + 1) DN (see write_ssl4eo).
        assert torch.allclose(sample["image"][SAR_KEY][0], torch.tensor(-20.0 + season))
        assert torch.allclose(sample["target"], torch.tensor(0.1 * (season + 1)))


def test_ssl4eo_pairs_two_seasons_by_time(tmp_path):
    write_ssl4eo(tmp_path, locations=2, seasons=2)
    ds = SSL4EOS12Pairs(tmp_path, TileOptions(stage2_proxy=True, tile_size=32), seasons=2)
    assert ds.names == ["0000000_0", "0000000_1", "0000001_0", "0000001_1"]
    for index, season in enumerate([0, 1, 0, 1]):
        sample = ds[index]
        assert torch.allclose(sample["image"][SAR_KEY][0], torch.tensor(-20.0 + season))
        assert torch.allclose(sample["target"], torch.tensor(0.1 * (season + 1)))


def test_ssl4eo_seasons_must_match_the_stored_seasons(tmp_path):
    write_ssl4eo(tmp_path, locations=1)
    ds = SSL4EOS12Pairs(tmp_path, TileOptions(stage2_proxy=True, tile_size=32), seasons=2)
    with pytest.raises(BadTileError, match="holds 4 seasons, not seasons=2"):
        ds[0]
    with pytest.raises(ValueError, match="seasons must be 1 to 4"):
        SSL4EOS12Pairs(tmp_path, TileOptions(stage2_proxy=True), seasons=5)


@pytest.mark.skipif(not SHARED_SSL4EO.is_dir(), reason="SSL4EO-S12 example not present")
def test_ssl4eo_example_l2a_reflectance_and_db():
    ds = SSL4EOS12Pairs(SHARED_SSL4EO, FULL, "s2a", seasons=2)
    assert ds.names == ["0000000_0", "0000000_1"]
    for index in range(2):
        sample = ds[index]
        sar, target = sample["image"][SAR_KEY], sample["target"]
        assert sar.shape == (2, 264, 264)
        assert target.shape == (12, 264, 264)
        assert bool(sample["valid_mask"].all())
        assert -40 < float(sar.min())  # VV, VH in dB, never linear power
        assert float(sar.max()) < 5
        low, high = torch.quantile(sar.flatten(1), torch.tensor([0.01, 0.99]), dim=1)
        assert bool((low > -30).all())
        assert bool((high < 0).all())
        assert -12 < float(sar[0].mean()) < -8  # cropland: VV well above VH
        assert -19 < float(sar[1].mean()) < -16
        assert 0 < float(target.min())  # L2A DN / 10000
        assert float(target.max()) < 1
        means = dict(zip(S2L2A_BANDS, target.mean((1, 2)).tolist(), strict=True))
        assert 0.05 < means["B02"] < means["B08"] < 0.4  # vegetation: NIR well above blue


def test_ssl4eo_rejects_acquisitions_too_far_apart():
    day = 86400.0
    s1 = {"image": torch.zeros(8, 2, 2), "t": torch.tensor([0.0, 90, 180, 270]) * day}
    s2 = {"image": torch.zeros(48, 2, 2), "t": torch.tensor([100.0, 190, 280, 370]) * day}
    with pytest.raises(BadTileError, match="100 days apart"):
        pair_seasons(s1, s2, 0)
