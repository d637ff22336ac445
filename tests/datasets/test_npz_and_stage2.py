"""NPZ tiles and Stage 2 inputs (files and the seeded proxy)."""

import numpy as np
import pytest
import torch
from tile_writers import scene, write_npz, write_tif

from axion_terratorch.constants import OPTICAL_KEY, S2L2A_BANDS, SAR_KEY
from axion_terratorch.datasets import BadTileError, NpzTileDataset, TileOptions

RGBN = [S2L2A_BANDS.index(b) for b in ("B02", "B03", "B04", "B08")]


def npz_dataset(root, **kwargs):
    options = TileOptions(**{"tile_size": None, **kwargs})
    return NpzTileDataset(sorted(root.glob("*.npz")), options, random_crop=False)


def test_npz_tile_units_and_bands(tmp_path):
    write_npz(tmp_path, "a", size=40)
    sar, optical = scene(0, 40)
    sample = npz_dataset(tmp_path, stage2_proxy=True, bands=("B08", "B04"))[0]
    assert torch.allclose(sample["image"][SAR_KEY], torch.from_numpy(sar))
    assert torch.allclose(sample["target"], torch.from_numpy(optical[[7, 3]] / 10000))


def test_npz_missing_key_and_band_outside_the_file_name_the_file(tmp_path):
    path = write_npz(tmp_path, "a")
    with pytest.raises(BadTileError, match=r"a\.npz: keys \['s2_b5'\] are missing"):
        npz_dataset(tmp_path, stage2_proxy=True, bands=("B02", "B05"))
    arrays = dict(np.load(path))
    arrays["s1_vh"] = arrays["s1_vh"][:20]
    np.savez(path, **arrays)
    with pytest.raises(BadTileError, match=r"a\.npz: arrays must be 2-D and of one size"):
        npz_dataset(tmp_path, stage2_proxy=True)


def test_stage2_read_from_npz_and_geotiff_by_tile_name(tmp_path):
    tiles, stage2 = tmp_path / "tiles", tmp_path / "stage2"
    write_npz(tiles, "a", size=32)
    write_npz(tiles, "b", size=32, seed=1)
    estimate_a = (np.full((4, 32, 32), 0.1) * np.arange(1, 5)[:, None, None]).astype(np.float32)
    stage2.mkdir()
    np.savez(stage2 / "a.npz", opt_v2=estimate_a)
    write_tif(
        stage2 / "b.tif",
        (estimate_a[::-1] * 10000).astype(np.uint16),
        descriptions=["B08", "B04", "B03", "B02"],
    )
    ds = npz_dataset(tiles, stage2_dir=str(stage2), bands=("B04", "B02"))
    assert torch.allclose(ds[0]["image"][OPTICAL_KEY], torch.from_numpy(estimate_a[[2, 0]]))
    with pytest.raises(BadTileError, match=r"b\.tif: Sentinel-2 reflectance 99th percentile"):
        ds[1]  # GeoTIFF in DN while stage2_scale is 1
    ds = npz_dataset(tiles, stage2_dir=str(stage2), stage2_scale=10000, bands=("B04", "B02"))
    assert torch.allclose(ds[1]["image"][OPTICAL_KEY], torch.from_numpy(estimate_a[[2, 0]]), atol=1e-4)


def test_missing_stage2_is_an_error_naming_the_tile_unless_the_proxy_is_asked_for(tmp_path, caplog):
    write_npz(tmp_path / "tiles", "lonely")
    (tmp_path / "stage2").mkdir()
    with pytest.raises(BadTileError, match=r"tile 'lonely': no Stage 2 output in stage2_dir=.*stage2"):
        npz_dataset(tmp_path / "tiles", stage2_dir=str(tmp_path / "stage2"))
    with pytest.raises(ValueError, match="stage2_proxy"):
        npz_dataset(tmp_path / "tiles")
    with caplog.at_level("INFO"):
        ds = npz_dataset(tmp_path / "tiles", stage2_dir=str(tmp_path / "stage2"), stage2_proxy=True)
    assert "1 of 1 tiles have no Stage 2 output" in caplog.text
    assert not torch.equal(ds[0]["image"][OPTICAL_KEY], ds[0]["target"])


def test_stage2_of_another_size_names_the_file(tmp_path):
    write_npz(tmp_path / "tiles", "a", size=32)
    (tmp_path / "stage2").mkdir()
    np.savez(tmp_path / "stage2" / "a.npz", opt_v2=np.zeros((4, 30, 30), np.float32))
    with pytest.raises(BadTileError, match=r"a\.npz: size \(30, 30\) differs"):
        npz_dataset(tmp_path / "tiles", stage2_dir=str(tmp_path / "stage2"))[0]


def test_proxy_is_identical_every_epoch_in_training_and_validation(tmp_path):
    write_npz(tmp_path, "a", size=48)
    train = NpzTileDataset(
        [tmp_path / "a.npz"], TileOptions(stage2_proxy=True, tile_size=None), random_crop=True
    )
    val = NpzTileDataset([tmp_path / "a.npz"], TileOptions(stage2_proxy=True, tile_size=None))
    first, again, in_val = train[0], train[0], val[0]
    assert torch.equal(first["image"][OPTICAL_KEY], again["image"][OPTICAL_KEY])
    assert torch.equal(first["image"][OPTICAL_KEY], in_val["image"][OPTICAL_KEY])


def test_random_training_crops_cut_input_target_and_mask_together(tmp_path):
    write_npz(tmp_path, "a", size=48)
    options = TileOptions(stage2_proxy=True, tile_size=None)
    full = NpzTileDataset([tmp_path / "a.npz"], options)[0]
    crops = NpzTileDataset(
        [tmp_path / "a.npz"], TileOptions(stage2_proxy=True, tile_size=16), random_crop=True
    )
    torch.manual_seed(0)
    for _ in range(3):
        crop = crops[0]
        sar = crop["image"][SAR_KEY]
        windows = full["image"][SAR_KEY].unfold(1, 16, 1).unfold(2, 16, 1)  # (2, 33, 33, 16, 16)
        hits = (windows == sar[:, None, None]).flatten(3).all(-1).all(0).nonzero()
        ((y, x),) = hits.tolist()
        assert torch.equal(crop["target"], full["target"][:, y : y + 16, x : x + 16])
        assert torch.equal(crop["image"][OPTICAL_KEY], full["image"][OPTICAL_KEY][:, y : y + 16, x : x + 16])
