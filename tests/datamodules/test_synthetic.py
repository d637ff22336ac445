"""Synthetic S1/S2 grounding scenes and their data module."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from jsonargparse import ArgumentParser
from matplotlib.figure import Figure
from scipy import ndimage
from torch.utils.data import DataLoader

from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, S2L2A_BANDS, SAR_KEY
from axion_terratorch.datamodules import SyntheticGroundingDataModule
from axion_terratorch.datasets import SyntheticGroundingDataset
from axion_terratorch.datasets.synthetic import CLASS_NAMES

SIZE = 32


def assert_samples_equal(a, b):
    assert torch.equal(a["image"][SAR_KEY], b["image"][SAR_KEY])
    assert torch.equal(a["image"][OPTICAL_KEY], b["image"][OPTICAL_KEY])
    assert torch.equal(a["target"], b["target"])
    assert torch.equal(a["valid_mask"], b["valid_mask"])


def psnr(a, b):
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


def test_sample_keys_shapes_dtypes_and_units():
    sample = SyntheticGroundingDataset(2, tile_size=SIZE)[1]
    sar, optical, target = sample["image"][SAR_KEY], sample["image"][OPTICAL_KEY], sample["target"]
    assert set(sample) == {"image", "target", "valid_mask", "error_mask"}
    assert set(sample["image"]) == {SAR_KEY, OPTICAL_KEY}
    assert sar.shape == (2, SIZE, SIZE)
    assert sar.dtype == torch.float32
    assert optical.shape == target.shape == (len(DEFAULT_BANDS), SIZE, SIZE)
    assert optical.dtype == target.dtype == torch.float32
    assert sample["valid_mask"].shape == (1, SIZE, SIZE)
    assert sample["valid_mask"].dtype == torch.bool
    assert bool(sample["valid_mask"].all())
    assert sample["error_mask"].shape == (1, SIZE, SIZE)
    assert sample["error_mask"].dtype == torch.float32
    assert not sample["error_mask"].any()  # the synthetic estimate has no structural errors
    assert -50 < sar.min()
    assert sar.max() < 15
    assert -20 < sar.mean() < -8
    assert sar[1].mean() < sar[0].mean()  # VH below VV
    for reflectance in (optical, target):
        assert 0 <= reflectance.min()
        assert reflectance.max() <= 1
        assert 0.02 < reflectance.mean() < 0.4


def test_same_index_is_bit_identical_in_any_order_and_worker():
    dataset = SyntheticGroundingDataset(4, tile_size=SIZE, seed=7)
    first = dataset[3]
    fresh = SyntheticGroundingDataset(4, tile_size=SIZE, seed=7)
    fresh[0], fresh[2]
    assert_samples_equal(first, fresh[3])
    assert_samples_equal(first, dataset[-1])
    loader = DataLoader(dataset, batch_size=None, num_workers=2)
    for index, sample in enumerate(loader):
        assert_samples_equal(dataset[index], sample)


def test_different_index_seed_and_split_differ():
    dataset = SyntheticGroundingDataset(2, tile_size=SIZE, seed=0)
    other_seed = SyntheticGroundingDataset(2, tile_size=SIZE, seed=1)
    assert not torch.equal(dataset[0]["target"], dataset[1]["target"])
    assert not torch.equal(dataset[0]["target"], other_seed[0]["target"])
    splits = SyntheticGroundingDataModule(num_train=1, num_val=1, num_test=1, tile_size=SIZE).split_datasets
    targets = [splits[name][0]["target"] for name in ("train", "val", "test")]
    assert not torch.equal(targets[0], targets[1])
    assert not torch.equal(targets[0], targets[2])
    assert not torch.equal(targets[1], targets[2])


def test_sar_follows_optical_geometry():
    dataset = SyntheticGroundingDataset(6, tile_size=64, bands=S2L2A_BANDS, seed=3)
    water_vv, land_vv, water_vh, land_vh = [], [], [], []
    for sample in dataset:
        sar, target = sample["image"][SAR_KEY], sample["target"]
        # Co-registration: smoothed VV tracks optical brightness, much less so 4 px off.
        vv = ndimage.uniform_filter(sar[0].numpy(), 3)
        brightness = target.mean(0).numpy().ravel()
        aligned = np.corrcoef(vv.ravel(), brightness)[0, 1]
        shifted = np.corrcoef(np.roll(vv, 4, axis=1).ravel(), brightness)[0, 1]
        assert aligned > 0.5
        assert aligned > shifted + 0.1
        water = target[S2L2A_BANDS.index("B08")] < 0.05  # water: NIR near zero
        water_vv.append(sar[0][water])
        land_vv.append(sar[0][~water])
        water_vh.append(sar[1][water])
        land_vh.append(sar[1][~water])
    assert torch.cat(water_vv).numel() > 100
    assert torch.cat(water_vv).mean() < -18 < -15 < torch.cat(land_vv).mean()
    assert torch.cat(water_vh).mean() < -24 < -22 < torch.cat(land_vh).mean()


def test_stage2_input_is_a_close_but_degraded_copy_of_the_target():
    for sample in SyntheticGroundingDataset(4, tile_size=SIZE, seed=2):
        optical, target = sample["image"][OPTICAL_KEY], sample["target"]
        assert not torch.equal(optical, target)
        assert 20 < psnr(optical, target) < 40


def test_band_subset_picks_the_matching_slots():
    full = SyntheticGroundingDataset(1, tile_size=SIZE, bands=S2L2A_BANDS, seed=5)[0]
    nir = SyntheticGroundingDataset(1, tile_size=SIZE, bands=("B08",), seed=5)[0]
    rgb = SyntheticGroundingDataset(1, tile_size=SIZE, bands=("B04", "B03", "B02"), seed=5)[0]
    assert torch.equal(nir["target"], full["target"][7:8])
    assert torch.equal(nir["image"][OPTICAL_KEY], full["image"][OPTICAL_KEY][7:8])
    assert torch.equal(rgb["target"], full["target"][[3, 2, 1]])
    assert torch.equal(nir["image"][SAR_KEY], full["image"][SAR_KEY])


@pytest.mark.parametrize("fraction", [0.1, 0.4])
def test_nodata_rectangle_covers_the_fraction_and_zeroes_only_it(fraction):
    clean = SyntheticGroundingDataset(3, tile_size=64, seed=1)
    holed = SyntheticGroundingDataset(3, tile_size=64, seed=1, nodata_fraction=fraction)
    for index in range(3):
        a, b = clean[index], holed[index]
        valid = b["valid_mask"][0]
        assert abs(float((~valid).float().mean()) - fraction) < 0.03
        for key, tensor in (
            ("sar", b["image"][SAR_KEY]),
            ("opt", b["image"][OPTICAL_KEY]),
            ("t", b["target"]),
        ):
            assert bool((tensor[:, ~valid] == 0).all()), key
        assert torch.equal(b["target"][:, valid], a["target"][:, valid])
        assert torch.equal(b["image"][SAR_KEY][:, valid], a["image"][SAR_KEY][:, valid])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_samples": 0}, "num_samples"),
        ({"tile_size": 8}, "tile_size"),
        ({"nodata_fraction": 1.0}, "nodata_fraction"),
        ({"nodata_fraction": -0.1}, "nodata_fraction"),
        ({"seed": -1}, "seed"),
        ({"bands": ("B02", "B99")}, "B99"),
        ({"bands": ("B02", "B02")}, "bands"),
    ],
)
def test_dataset_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SyntheticGroundingDataset(**{"num_samples": 1, **kwargs})


def test_dataset_rejects_a_single_band_string():
    with pytest.raises(TypeError, match="bands"):
        SyntheticGroundingDataset(1, bands="B08")


def test_dataset_index_out_of_range():
    with pytest.raises(IndexError, match="index 2"):
        SyntheticGroundingDataset(2, tile_size=SIZE)[2]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"num_train": 0}, "num_train"),
        ({"num_val": 0}, "num_val"),
        ({"num_test": -1}, "num_test"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_workers": -1}, "num_workers"),
        ({"tile_size": 4}, "tile_size"),
        ({"nodata_fraction": 2.0}, "nodata_fraction"),
    ],
)
def test_datamodule_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SyntheticGroundingDataModule(**kwargs)


def test_datamodule_yields_dict_batches_for_every_stage():
    dm = SyntheticGroundingDataModule(num_train=5, num_val=3, num_test=2, tile_size=SIZE, batch_size=2)
    dm.setup("fit")
    train = list(dm.train_dataloader())
    assert len(train) == 2  # 5 tiles, last incomplete batch dropped
    batch = train[0]
    assert batch["image"][SAR_KEY].shape == (2, 2, SIZE, SIZE)
    assert batch["image"][OPTICAL_KEY].shape == (2, 4, SIZE, SIZE)
    assert batch["target"].shape == (2, 4, SIZE, SIZE)
    assert batch["valid_mask"].shape == (2, 1, SIZE, SIZE)
    assert batch["valid_mask"].dtype == torch.bool
    assert [len(b["target"]) for b in dm.val_dataloader()] == [2, 1]
    dm.setup("test")
    dm.setup("predict")
    test_batch, predict_batch = next(iter(dm.test_dataloader())), next(iter(dm.predict_dataloader()))
    assert torch.equal(test_batch["target"], predict_batch["target"])
    # torchgeo's default hook would normalise batch["image"] as a tensor; ours passes dicts through.
    dm.trainer = SimpleNamespace(training=True)
    assert dm.on_after_batch_transfer(batch, 0) is batch
    with pytest.raises(ValueError, match="stage"):
        dm.setup("train")


def test_datamodule_builds_from_yaml_style_arguments():
    parser = ArgumentParser()
    parser.add_class_arguments(SyntheticGroundingDataModule, "data")
    config = parser.parse_args(["--data.bands=[B08, B04]", "--data.num_train=2", "--data.tile_size=16"])
    dm = parser.instantiate_classes(config).data
    assert dm.split_datasets["train"].bands == ("B08", "B04")
    assert len(dm.split_datasets["train"]) == 2


def test_plot_returns_a_figure():
    dataset = SyntheticGroundingDataset(1, tile_size=SIZE)
    assert isinstance(dataset.plot(dataset[0], suptitle="tile 0"), Figure)
    single = SyntheticGroundingDataset(1, tile_size=SIZE, bands=("B08",))
    assert isinstance(single.plot(single[0]), Figure)


def test_segmentation_mode_yields_land_cover_masks_of_the_same_scene():
    grounding = SyntheticGroundingDataset(2, tile_size=SIZE, seed=3)
    segmentation = SyntheticGroundingDataset(2, tile_size=SIZE, seed=3, task="segmentation")
    sample, scene = segmentation[0], grounding[0]
    assert set(sample) == {"image", "mask"}
    assert torch.equal(sample["image"][SAR_KEY], scene["image"][SAR_KEY])
    assert torch.equal(sample["image"][OPTICAL_KEY], scene["target"])  # the clean optical, not Stage 2
    assert sample["mask"].dtype == torch.int64
    assert sample["mask"].shape == (SIZE, SIZE)
    assert 0 <= int(sample["mask"].min())
    assert int(sample["mask"].max()) < len(CLASS_NAMES)
    water = sample["mask"] == CLASS_NAMES.index("water")
    if water.any():  # water is dark in NIR (B08)
        assert sample["image"][OPTICAL_KEY][3][water].mean() < sample["image"][OPTICAL_KEY][3][~water].mean()
