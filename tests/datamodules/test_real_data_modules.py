"""Real-data data modules: splits, caps, augmentation, bad-tile reports, and a training step each."""

import json
import warnings

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from grounding_run import BANDS, tiny_task
from jsonargparse import ArgumentParser
from tile_writers import (
    write_multiband_pair,
    write_npz,
    write_per_band_pair,
    write_sen12ms,
    write_ssl4eo,
    write_tif,
)

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules import (
    BadTileReport,
    BigEarthNetPairDataModule,
    GeoTiffPairDataModule,
    JointFlipRotate,
    NpzTileDataModule,
    SEN12MSPairDataModule,
    SSL4EOS12PairDataModule,
)
from axion_terratorch.datasets import BadTileError, TileOptions

from run_configs import SHARED_DATA

TILES = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True)
PER_BAND = {
    "s1_pattern": r"(?P<tile>t\d)_(?P<band>VV|VH)\.tif",
    "s2_pattern": r"(?P<tile>t\d)_(?P<band>B\w\w)\.tif",
}


def fit_one_step(task, datamodule, **trainer_args):
    trainer = pl.Trainer(
        accelerator="cpu",
        fast_dev_run=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_args,
    )
    trainer.fit(task, datamodule=datamodule)
    assert trainer.state.finished
    return trainer


def test_geotiff_folder_trains_one_step(tmp_path):
    for index in range(4):
        write_per_band_pair(tmp_path, f"t{index}", size=36, seed=index)
    dm = GeoTiffPairDataModule(
        tmp_path, **PER_BAND, val_ratio=0.25, test_ratio=0.25, tiles=TILES, batch_size=2
    )
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 2, "val": 1, "test": 1}
    trainer = fit_one_step(tiny_task(), dm)
    assert trainer.global_step == 1


def test_npz_with_sidecar_splits_trains_one_step(tmp_path):
    for index, split in enumerate(("train", "train", "val", "test")):
        write_npz(tmp_path, f"tile{index}", size=36, seed=index, split=split)
    dm = NpzTileDataModule(tmp_path, tiles=TILES, batch_size=2)
    assert dm.splits == {"train": ["tile0", "tile1"], "val": ["tile2"], "test": ["tile3"]}
    fit_one_step(tiny_task(), dm)


def test_sen12ms_trains_one_step(tmp_path):
    write_sen12ms(tmp_path)
    dm = SEN12MSPairDataModule(tmp_path, val_ratio=0.5, tiles=TILES, batch_size=1)
    dm.setup("fit")
    dm.setup("test")
    assert (len(dm.train_dataset), len(dm.val_dataset), len(dm.test_dataset)) == (1, 1, 1)
    assert set(dm.train_dataset.names) | set(dm.val_dataset.names) == {
        "ROIs1158_spring_lc_1_p1",
        "ROIs1158_spring_lc_1_p2",
    }
    fit_one_step(tiny_task(), dm)


def test_ssl4eo_trains_one_step_with_locations_kept_in_one_split(tmp_path):
    write_ssl4eo(tmp_path, locations=3, size=8)
    dm = SSL4EOS12PairDataModule(tmp_path, val_ratio=0.3, test_ratio=0.3, tiles=TILES, batch_size=2)
    dm.setup("fit")
    assert {name.split("_")[0] for name in dm.val_dataset.names} == {dm.val_dataset.names[0].split("_")[0]}
    fit_one_step(tiny_task(), dm)


def test_ssl4eo_split_files_name_tiles_by_location_and_season(tmp_path):
    write_ssl4eo(tmp_path, locations=3, size=8)
    lists = _lists(tmp_path, ["0000000_0", "0000001_0", "0000001_1"], ["0000002_1"])
    dm = SSL4EOS12PairDataModule(tmp_path, split_files=lists, tiles=TILES, batch_size=1)
    dm.setup("fit")
    assert dm.train_dataset.names == ["0000000_0", "0000001_0", "0000001_1"]
    assert dm.val_dataset.names == ["0000002_1"]


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="BigEarthNet v1 example not present")
def test_real_bigearthnet_trains_one_step():
    dm = BigEarthNetPairDataModule(SHARED_DATA, tiles=TILES, batch_size=2)
    trainer = fit_one_step(tiny_task(), dm)
    assert trainer.global_step == 1
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"][SAR_KEY].shape == (1, 2, 32, 32)
    assert -30 < float(batch["image"][SAR_KEY][:, 0].mean()) < 0  # VV in dB
    assert 0 < float(batch["target"].mean()) < 0.5  # reflectance


def test_caps_limit_tiles(tmp_path):
    for index in range(6):
        write_npz(tmp_path, f"tile{index}", size=32, seed=index)
    dm = NpzTileDataModule(
        tmp_path, val_ratio=0.34, test_ratio=0.0, tiles=TILES, max_samples=2, max_eval_samples=1
    )
    dm.setup("fit")
    assert (len(dm.train_dataset), len(dm.val_dataset)) == (2, 1)


def test_augmentation_moves_every_array_identically_and_only_in_training(tmp_path):
    torch.manual_seed(0)
    sar = torch.randn(8, 2, 16, 16)
    batch = {
        "image": {SAR_KEY: sar, OPTICAL_KEY: sar[:, :1] * 3},
        "target": sar[:, 1:] * 5,
        "valid_mask": sar[:, :1] > 0,
    }
    out = JointFlipRotate()(batch)
    assert torch.equal(out["image"][OPTICAL_KEY], out["image"][SAR_KEY][:, :1] * 3)
    assert torch.equal(out["target"], out["image"][SAR_KEY][:, 1:] * 5)
    assert torch.equal(out["valid_mask"], out["image"][SAR_KEY][:, :1] > 0)
    assert out["valid_mask"].dtype == torch.bool
    assert not torch.equal(out["image"][SAR_KEY], sar)  # 8 samples: some were moved
    for index in range(8):  # each sample is a flip/rotation of itself, never resampled
        candidates = [
            torch.rot90(s, k, (-2, -1)) for s in (sar[index], sar[index].flip(-1)) for k in range(4)
        ]
        assert any(torch.equal(out["image"][SAR_KEY][index], c) for c in candidates)

    write_npz(tmp_path, "a", size=32)
    dm = NpzTileDataModule(tmp_path, val_ratio=0, test_ratio=0, tiles=TILES)
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    dm.trainer = trainer
    for training in (True, False):
        if training:
            trainer.training = True
        else:
            trainer.validating = True
        result = dm.on_after_batch_transfer({**batch, "image": dict(batch["image"])}, 0)
        assert torch.equal(result["image"][SAR_KEY], sar) != training


def test_bad_tiles_are_skipped_warned_and_counted_at_the_end_of_the_epoch(tmp_path):
    for index in range(4):
        write_multiband_pair(tmp_path, f"t{index}", size=32, seed=index)
    write_tif(tmp_path / "t1_S1.tif", np.full((2, 32, 32), np.nan, np.float32))  # found only when read
    tiles = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True, on_bad_tile="skip")
    dm = GeoTiffPairDataModule(
        tmp_path, split_files=_lists(tmp_path, ["t0", "t1", "t2"], ["t3"]), tiles=tiles, batch_size=3
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = pl.Trainer(
            accelerator="cpu",
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            num_sanity_val_steps=0,
        )
        trainer.fit(tiny_task(), datamodule=dm)
    messages = [str(w.message) for w in caught]
    assert any("t1_S1.tif" in m and "no valid pixel" in m for m in messages)
    assert any("1 bad tiles were skipped in this train epoch" in m for m in messages)
    assert any(isinstance(c, BadTileReport) for c in trainer.callbacks)

    strict = GeoTiffPairDataModule(tmp_path, split_files=_lists(tmp_path, ["t0", "t1"], ["t3"]), tiles=TILES)
    assert strict.configure_callbacks() == []  # no report without skipping
    strict.setup("fit")
    with pytest.raises(BadTileError, match=r"t1_S1\.tif.*no valid pixel"):
        [strict.train_dataset[i] for i in range(len(strict.train_dataset))]


def _lists(root, train, val):
    paths = {}
    for split, names in (("train", train), ("val", val)):
        paths[split] = str(root / f"{split}.txt")
        (root / f"{split}.txt").write_text("\n".join(names))
    return paths


def test_setup_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="stage2_proxy"):
        NpzTileDataModule(tmp_path, tiles=TileOptions())
    with pytest.raises(FileNotFoundError, match=r"no \.npz tile under root="):
        NpzTileDataModule(tmp_path, tiles=TILES)
    write_tif(tmp_path / "x_S1.tif", np.zeros((2, 8, 8), np.float32))
    with pytest.raises(BadTileError, match=r"x_S1\.tif has no S2 partner"):
        GeoTiffPairDataModule(tmp_path, tiles=TILES)
    (tmp_path / "bad.json").write_text(json.dumps({"split": "dev"}))
    write_npz(tmp_path, "bad")
    with pytest.raises(ValueError, match=r"bad\.json: split 'dev'"):
        NpzTileDataModule(tmp_path, tiles=TILES)


def test_datamodule_builds_from_yaml_style_arguments(tmp_path):
    write_multiband_pair(tmp_path, "t0")
    parser = ArgumentParser()
    parser.add_class_arguments(GeoTiffPairDataModule, "data")
    config = parser.parse_args(
        [
            f"--data.root={tmp_path}",
            "--data.tiles.bands=[B08, B04]",
            "--data.tiles.stage2_proxy=true",
            "--data.tiles.on_bad_tile=skip",
            "--data.val_ratio=0",
            "--data.test_ratio=0",
        ]
    )
    dm = parser.instantiate_classes(config).data
    assert dm.tiles.bands == ("B08", "B04")
    assert dm.tiles.on_bad_tile == "skip"
    with pytest.raises(SystemExit):
        parser.parse_args([f"--data.root={tmp_path}", "--data.tiles.on_bad_tile=ignore"])


def test_npz_tiles_of_the_same_name_in_two_subfolders_are_reported(tmp_path):
    for folder in ("a", "b"):
        write_npz(tmp_path / folder, "tile0", size=36)
    write_npz(tmp_path / "a", "tile1", size=36)
    write_npz(tmp_path / "b", "tile2", size=36)
    with pytest.raises(
        BadTileError, match=r"tile 'tile0': 2 files of that name \(.*a/tile0\.npz, .*b/tile0\.npz\)"
    ):
        NpzTileDataModule(tmp_path, tiles=TILES, val_ratio=0, test_ratio=0)
    skip = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True, on_bad_tile="skip")
    with pytest.warns(UserWarning, match="tile 'tile0': 2 files"):
        dm = NpzTileDataModule(tmp_path, tiles=skip, val_ratio=0, test_ratio=0)
    assert dm.splits["train"] == ["tile1", "tile2"]  # neither tile0 is taken for the other


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="BigEarthNet v1 example not present")
def test_download_flag_is_accepted_and_passed_to_torchgeo(monkeypatch):
    # torchgeo's "not found" error says to use download=True: the data module takes it
    from terratorch.cli_tools import build_lightning_cli

    from run_configs import REPO

    monkeypatch.chdir(REPO)  # the data config's root is relative to the checkout
    args = ["-c", "configs/stage3.demo.yaml", "-c", "configs/data/bigearthnet.yaml"]
    cli = build_lightning_cli([*args, "--data.init_args.download=true"], run=False)
    assert cli.datamodule.download is True
    cli.datamodule.prepare_data()  # present: torchgeo checks and downloads nothing
    cli.datamodule.setup("fit")
    assert len(cli.datamodule.train_dataset) > 0
