"""SEN12MS-CR folders: pairing by file name, band picking, the cloudy image as Stage 2 input,
prediction-only folders, errors naming the missing file or folder, and composition."""

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml
from grounding_run import BANDS, tiny_task
from test_data_configs import parser
from test_multi_source import SOURCE_TILES
from test_real_data_modules import PER_BAND, fit_one_step
from tile_writers import l1c, scene, write_per_band_pair, write_sen12mscr

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules import (
    GeoTiffPairDataModule,
    MultiSourcePairDataModule,
    SEN12MSCRPairDataModule,
)
from axion_terratorch.datasets import BadTileError, TileOptions

from run_configs import REPO, SHARED_SEN12MSCR

NAMES = [
    "ROIs1158_spring_101_30",
    "ROIs1158_spring_101_31",
    "ROIs1868_summer_19_p30",
    "ROIs1868_summer_19_p31",
]
#: Bands on both sides of B10 in the file, out of file order.
PICKED = ("B11", "B02", "B8A", "B12")
#: Position of each band in a SEN12MS-CR file (B01 ... B08, B8A, B09, B10, B11, B12).
FILE_INDEX = {"B02": 1, "B03": 2, "B04": 3, "B08": 7, "B8A": 8, "B11": 11, "B12": 12}


def module(root, bands=BANDS, **kwargs):
    tiles = TileOptions(bands=bands, tile_size=32, **kwargs.pop("tiles", {"stage2_proxy": True}))
    return SEN12MSCRPairDataModule(root, tiles=tiles, val_ratio=0.0, test_ratio=0.0, **kwargs)


def expected_reflectance(seed, bands, cloud=False):
    optical = scene(seed, 32)[1]
    if cloud:
        optical[:, :, :16] += 4000
    return torch.from_numpy(l1c(optical)[[FILE_INDEX[b] for b in bands]] / np.float32(10000))


def test_pairs_by_file_name_and_picks_bands_by_name(tmp_path):
    write_sen12mscr(tmp_path, NAMES)
    dataset = module(tmp_path, bands=PICKED).build_dataset("train")
    dataset.random_crop = False  # a 32 px tile: every crop is the whole tile anyway
    assert dataset.names == sorted(NAMES)
    for index, name in enumerate(dataset.names):
        sample = dataset[index]
        seed = NAMES.index(name)
        torch.testing.assert_close(sample["target"], expected_reflectance(seed, PICKED))
        torch.testing.assert_close(sample["image"][SAR_KEY], torch.from_numpy(scene(seed, 32)[0]))
        assert sample["filename"] == name
        assert bool(sample["valid_mask"].all())


def test_cloudy_image_is_the_stage2_input_and_needs_no_proxy(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:2])
    dm = module(tmp_path, stage2_input="cloudy", tiles={})  # no stage2_proxy, no stage2_dir
    dataset = dm.build_dataset("train")
    dataset.random_crop = False
    sample = dataset[0]
    torch.testing.assert_close(sample["image"][OPTICAL_KEY], expected_reflectance(0, BANDS, cloud=True))
    torch.testing.assert_close(sample["target"], expected_reflectance(0, BANDS))
    proxy = module(tmp_path).build_dataset("train")
    proxy.random_crop = False
    degraded = proxy[0]["image"][OPTICAL_KEY]
    assert (degraded - sample["target"]).abs().mean() < 0.05  # the proxy degrades the truth: no cloud
    assert (sample["image"][OPTICAL_KEY] - sample["target"]).abs().mean() > 0.15


def test_proxy_needs_the_tiles_stage2_input(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:2])
    with pytest.raises(ValueError, match="stage2_proxy"):
        module(tmp_path, tiles={})
    with pytest.raises(ValueError, match="stage2_input must be one of \\['cloudy', 'proxy'\\], got 'clouds'"):
        module(tmp_path, stage2_input="clouds")


def test_missing_cloudy_file_names_it(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:3])
    missing = tmp_path / "s2_cloudy" / f"{NAMES[1]}.tif"
    missing.unlink()
    with pytest.raises(BadTileError, match=str(missing)):
        module(tmp_path, stage2_input="cloudy")
    with pytest.warns(UserWarning, match=str(missing)):
        dm = module(tmp_path, stage2_input="cloudy", tiles={"on_bad_tile": "skip"})
    assert dm.names == [NAMES[0], NAMES[2]]
    assert len(module(tmp_path).names) == 3  # the proxy reads no cloudy file


def test_missing_partners_and_folders_name_the_path(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:2], cloudy=False)
    target = tmp_path / "s2_cloudfree" / f"{NAMES[0]}.tif"
    target.rename(tmp_path / "elsewhere.tif")
    with pytest.raises(BadTileError, match=str(target)):
        module(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "s2_cloudy")):
        module(tmp_path, stage2_input="cloudy")
    (tmp_path / "elsewhere.tif").rename(target)
    (tmp_path / "s1" / f"{NAMES[1]}.tif").unlink()
    with pytest.raises(BadTileError, match=str(tmp_path / "s1" / f"{NAMES[1]}.tif")):
        module(tmp_path, tiles={"stage2_proxy": True, "on_bad_tile": "error"})


def test_folder_without_cloudfree_serves_prediction_only(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:2], cloudfree=False)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "s2_cloudfree")):
        module(tmp_path)
    dm = module(tmp_path, stage2_input="cloudy", tiles={}, batch_size=2)
    for stage in ("fit", "validate", "test"):
        with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 's2_cloudfree'} .*{stage}"):
            dm.setup(stage)
    dm.setup("predict")
    batch = next(iter(dm.predict_dataloader()))
    assert "target" not in batch
    assert batch["filename"] == NAMES[:2]
    torch.testing.assert_close(batch["image"][OPTICAL_KEY][1], expected_reflectance(1, BANDS, cloud=True))


@pytest.mark.slow
def test_folder_without_cloudfree_predicts(tmp_path):
    write_sen12mscr(tmp_path, NAMES[:3], cloudfree=False)
    dm = module(tmp_path, stage2_input="cloudy", tiles={}, batch_size=2)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    outputs = trainer.predict(tiny_task(), datamodule=dm)
    assert [tuple(out.shape) for out in outputs] == [(2, 4, 32, 32), (1, 4, 32, 32)]


def test_ratio_split_keeps_the_patches_of_a_scene_together(tmp_path):
    write_sen12mscr(tmp_path, NAMES)
    tiles = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True)
    dm = SEN12MSCRPairDataModule(tmp_path, tiles=tiles, val_ratio=0.5, test_ratio=0.0)
    assert sorted(map(len, dm.splits.values())) == [0, 2, 2]
    assert len({name.rsplit("_", 1)[0] for name in dm.splits["val"]}) == 1
    (tmp_path / "val.txt").write_text(f"{NAMES[3]}.tif\n")
    listed = SEN12MSCRPairDataModule(tmp_path, tiles=tiles, split_files={"val": str(tmp_path / "val.txt")})
    assert listed.splits == {"train": [], "val": [NAMES[3]], "test": []}


def composed(root):
    """A GeoTIFF folder with the proxy and a SEN12MS-CR folder with the cloudy input, in one module."""
    write_sen12mscr(root / "cr", NAMES[:2])
    for index in range(2):
        write_per_band_pair(root / "pairs", f"t{index}", size=60, seed=index)
    folder = GeoTiffPairDataModule(
        root / "pairs", **PER_BAND, val_ratio=0.5, test_ratio=0.0, tiles=SOURCE_TILES
    )
    cloudy = SEN12MSCRPairDataModule(root / "cr", stage2_input="cloudy", val_ratio=0.0, test_ratio=0.0)
    tiles = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True)
    return MultiSourcePairDataModule([folder, cloudy], tiles=tiles, batch_size=2)


def test_cloudy_source_composes_with_a_proxy_source(tmp_path):
    dm = composed(tmp_path)
    dm.setup("fit")
    assert dm.train_dataset.names[-2:] == NAMES[:2]
    dm.train_dataset.random_crop = False
    sample = dm.train_dataset[len(dm.train_dataset) - 2]
    torch.testing.assert_close(sample["image"][OPTICAL_KEY], expected_reflectance(0, BANDS, cloud=True))


@pytest.mark.slow
def test_composed_cloudy_source_trains_one_step(tmp_path):
    assert fit_one_step(tiny_task(), composed(tmp_path)).global_step == 1


@pytest.mark.skipif(not SHARED_SEN12MSCR.is_dir(), reason="SEN12MS-CR example not present")
def test_example_pairs_and_cloudy_scene_load():
    tiles = TileOptions(bands=BANDS, tile_size=256, stage2_proxy=True)
    dm = SEN12MSCRPairDataModule(SHARED_SEN12MSCR, tiles=tiles, val_ratio=0.0, test_ratio=0.0)
    dataset = dm.build_dataset("train")
    assert dataset.names == [f"ROIs1158_spring_101_{i}" for i in (30, 31, 32)]
    for sample in dataset:
        assert sample["image"][SAR_KEY].shape == (2, 256, 256)
        assert sample["image"][OPTICAL_KEY].shape == sample["target"].shape == (4, 256, 256)
        assert bool(sample["valid_mask"].all())
        assert -40 < float(sample["image"][SAR_KEY].mean()) < -15  # dB near the noise floor (README)
        assert float(sample["target"].min()) > 0.0  # L1C reflectance
        assert float(sample["target"].max()) < 1.0
    predict = SEN12MSCRPairDataModule(
        SHARED_SEN12MSCR / "cloudy_no_truth", stage2_input="cloudy", tiles=tiles
    )
    predict.setup("predict")
    (sample,) = list(predict.predict_dataset)
    assert sample["filename"] == "ROIs1868_summer_19_p30"
    assert "target" not in sample
    assert 0.05 < float(sample["image"][OPTICAL_KEY][0].mean()) < 0.5  # cloudy L1C blue


@pytest.mark.skipif(not SHARED_SEN12MSCR.is_dir(), reason="SEN12MS-CR example not present")
def test_data_config_loads_the_example():
    raw = yaml.safe_load((REPO / "configs" / "data" / "sen12mscr.yaml").read_text())
    args = raw["data"]["init_args"]
    args["root"] = str(SHARED_SEN12MSCR)
    args["split_files"] = {split: str(REPO / path) for split, path in args["split_files"].items()}
    p = parser()
    dm = p.instantiate_classes(p.parse_object(raw)).data
    dm.setup("fit")
    assert (dm.train_dataset.names, dm.val_dataset.names) == (NAMES[:2], ["ROIs1158_spring_101_32"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["target"].shape == (2, 4, 128, 128)
