"""GeoTIFF pair folders: layouts, band identities, grids, units, nodata and bad input."""

import re
import warnings

import numpy as np
import pytest
import rasterio
import torch
from tile_writers import ORIGIN, block_mean, scene, write_multiband_pair, write_per_band_pair, write_tif

from axion_terratorch.constants import OPTICAL_KEY, S2L2A_BANDS, SAR_KEY
from axion_terratorch.datasets import BadTileError, GeoTiffPairDataset, TileOptions, find_tiles

PER_BAND = (r"(?P<tile>t\d)_(?P<band>VV|VH)\.tif", r"(?P<tile>t\d)_(?P<band>B\w\w)\.tif")
MULTI = (r"(?P<tile>.+)_S1\.tif", r"(?P<tile>.+)_S2\.tif")


def options(**kwargs):
    return TileOptions(**{"stage2_proxy": True, "tile_size": None, **kwargs})


def dataset(root, patterns=MULTI, **kwargs):
    reader_args = {k: kwargs.pop(k) for k in ("s1_bands", "s2_bands", "reproject_s1") if k in kwargs}
    tiles, problems = find_tiles(root, *patterns)
    assert not problems
    return GeoTiffPairDataset(tiles, options(**kwargs), **reader_args)


def test_multiband_pair_gives_db_reflectance_and_selected_bands(tmp_path):
    write_multiband_pair(tmp_path, "t0", size=40)
    sar, optical = scene(0, 40)
    sample = dataset(tmp_path, bands=("B08", "B02"))[0]
    assert torch.allclose(sample["image"][SAR_KEY], torch.from_numpy(sar))
    expected = np.floor(optical[[7, 1]]) / 10000  # written as uint16 DN
    assert torch.allclose(sample["target"], torch.from_numpy(expected.astype(np.float32)))
    assert sample["image"][OPTICAL_KEY].shape == (2, 40, 40)
    assert sample["valid_mask"].dtype == torch.bool
    assert bool(sample["valid_mask"].all())


def test_per_band_files_at_native_resolution_land_on_the_10m_grid(tmp_path):
    write_per_band_pair(tmp_path, "t1", size=60)
    _, optical = scene(0, 60)
    sample = dataset(tmp_path, PER_BAND, bands=S2L2A_BANDS)[0]
    target = sample["target"].numpy() * 10000
    assert target.shape == (12, 60, 60)
    assert np.abs(target[1] - optical[1]).max() <= 1  # B02 is on the grid already (uint16 DN)
    for band, factor in (("B05", 2), ("B01", 6)):
        index = S2L2A_BANDS.index(band)
        native = np.kron(block_mean(optical[index], factor), np.ones((factor, factor)))

        def error(shift, index=index, native=native, factor=factor):
            moved = np.roll(target[index], shift, axis=(0, 1))
            return np.abs(moved - native)[factor:-factor, factor:-factor].mean()

        # Aligned: any shift by half a native pixel matches the file's pixels worse.
        for shift in ((factor // 2, 0), (-(factor // 2), 0), (0, factor // 2), (0, -(factor // 2))):
            assert error((0, 0)) < 0.8 * error(shift), (band, shift)


def test_band_identities_from_config_when_files_lack_descriptions(tmp_path):
    write_multiband_pair(tmp_path, "t0", describe=False)
    with pytest.raises(BadTileError, match=r"t0_S2\.tif: band identities unknown: set s2_bands"):
        dataset(tmp_path)
    sample = dataset(tmp_path, s2_bands=list(S2L2A_BANDS), bands=("B04",))[0]
    assert sample["target"].shape[0] == 1


def test_config_contradicting_band_descriptions_is_an_error(tmp_path):
    write_multiband_pair(tmp_path, "t0")
    with pytest.raises(BadTileError, match=r"t0_S2\.tif: band descriptions .* contradict s2_bands"):
        dataset(tmp_path, s2_bands=list(reversed(S2L2A_BANDS)))


def test_s1_on_another_grid_is_an_error_naming_both_files_or_reprojected(tmp_path):
    sar, optical = scene(0, 40)
    write_tif(tmp_path / "t0_S2.tif", optical.astype(np.uint16), descriptions=list(S2L2A_BANDS))
    # S1 starts 5 px west and 3 px north of S2: pixel (r, c) of S2 is pixel (r + 3, c + 5) of S1.
    padded = np.full((2, 48, 48), -30, np.float32)
    padded[:, 3:43, 5:45] = sar
    write_tif(tmp_path / "t0_S1.tif", padded, origin=(ORIGIN[0] - 50, ORIGIN[1] + 30))
    with pytest.raises(
        BadTileError, match=r"t0_S1\.tif and .*t0_S2\.tif are on different grids.*reproject_s1"
    ):
        dataset(tmp_path)
    sample = dataset(tmp_path, reproject_s1=True)[0]
    assert torch.allclose(sample["image"][SAR_KEY], torch.from_numpy(sar), atol=1e-4)


def test_only_one_georeferenced_raster_is_an_error(tmp_path):
    sar, optical = scene(0, 32)
    write_tif(tmp_path / "t0_S2.tif", optical.astype(np.uint16), descriptions=list(S2L2A_BANDS))
    write_tif(tmp_path / "t0_S1.tif", sar, crs=None)
    with pytest.raises(BadTileError, match="only one is georeferenced"):
        dataset(tmp_path)


def test_nodata_and_nan_become_invalid_and_zero(tmp_path):
    sar, optical = scene(0, 32)
    sar[0, :4] = np.nan
    dn = optical.astype(np.uint16)
    dn[:, :, :3] = 0  # L2A nodata
    write_tif(tmp_path / "t0_S1.tif", sar)
    write_tif(tmp_path / "t0_S2.tif", dn, descriptions=list(S2L2A_BANDS))
    sample = dataset(tmp_path)[0]
    valid = sample["valid_mask"][0]
    assert not valid[:4].any()
    assert not valid[:, :3].any()
    assert bool(valid[4:, 3:].all())
    for tensor in (sample["image"][SAR_KEY], sample["image"][OPTICAL_KEY], sample["target"]):
        assert bool((tensor[:, ~valid] == 0).all())
        assert bool(torch.isfinite(tensor).all())


def test_linear_power_s1_is_converted_to_db(tmp_path):
    write_multiband_pair(tmp_path, "t0", size=32)
    sar, _ = scene(0, 32)
    with rasterio.open(tmp_path / "t0_S1.tif", "r+") as dst:
        dst.write(10 ** (sar / 10))
    assert torch.allclose(dataset(tmp_path)[0]["image"][SAR_KEY], torch.from_numpy(sar), atol=1e-4)


def test_missing_partner_and_duplicate_files_are_reported(tmp_path):
    write_multiband_pair(tmp_path, "t0")
    write_tif(tmp_path / "t1_S1.tif", scene(1, 40)[0])
    tiles, problems = find_tiles(tmp_path, *MULTI)
    assert [tile.name for tile in tiles] == ["t0"]
    assert "t1_S1.tif has no S2 partner matching s2_pattern" in problems["t1"]
    write_tif(tmp_path / "sub" / "t0_S1.tif", scene(0, 40)[0])
    _, problems = find_tiles(tmp_path, *MULTI)
    assert "both match s1_pattern" in problems["t0"]


def test_pattern_without_tile_group_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"s1_pattern=.*\(\?P<tile>"):
        find_tiles(tmp_path, r".+_S1\.tif", MULTI[1])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing_band", r"t1_\* .*one file per band.*\['B8A'\] are missing"),
        ("truncated", r"t0_B04\.tif: (unreadable raster|cannot read pixels|truncated)"),
        ("two_bands", r"t0_VH\.tif: 2 bands in a one-file-per-band layout"),
        ("all_nodata", r"tile 't0' .* has no valid pixel"),
        ("amplitude", r"t0_VV\.tif.*neither backscatter in dB"),
    ],
)
def test_bad_tiles_raise_naming_the_file_or_are_skipped_with_a_warning(tmp_path, damage, message):
    write_per_band_pair(tmp_path, "t0", size=30)
    write_per_band_pair(tmp_path, "t1", size=30, seed=1)
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    if damage == "missing_band":
        (s2 / "t1_B8A.tif").unlink()
        message = r"s2 .*one file per band.*\['B8A'\] are missing"
    elif damage == "truncated":
        data = (s2 / "t0_B04.tif").read_bytes()
        (s2 / "t0_B04.tif").write_bytes(data[: len(data) // 2])
    elif damage == "two_bands":
        write_tif(s1 / "t0_VH.tif", np.full((2, 30, 30), -20, np.float32))
    elif damage == "all_nodata":
        write_tif(s1 / "t0_VV.tif", np.full((30, 30), np.nan, np.float32))
    elif damage == "amplitude":
        for pol in ("VV", "VH"):
            write_tif(s1 / f"t0_{pol}.tif", np.full((30, 30), 400.0, np.float32))
    bands = {"bands": S2L2A_BANDS}
    with pytest.raises(BadTileError, match=message):
        read_all(dataset(tmp_path, PER_BAND, **bands))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        skipping = dataset(tmp_path, PER_BAND, on_bad_tile="skip", **bands)
        samples = read_all(skipping)
    assert any(re.search(message, str(w.message)) for w in caught)
    # The bad tile is dropped at setup (cheap checks) or replaced by the good one and counted once.
    skipped = sum(int(s["bad_tiles"]) for s in samples)
    assert (len(skipping), skipped) in {(1, 0), (2, 1)}
    assert all(torch.equal(s["target"], samples[-1]["target"]) for s in samples)


def read_all(ds):
    return [ds[index] for index in range(len(ds))]
