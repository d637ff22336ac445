"""MultiSourcePairDataModule: each source's split, one tiles setting, and the real-pair hold-out config."""

import pytest
import torch
import yaml
from grounding_run import BANDS, tiny_task
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule
from test_real_data_modules import PER_BAND, fit_one_step
from tile_writers import write_per_band_pair, write_ssl4eo

from axion_terratorch.constants import OPTICAL_KEY, SAR_KEY
from axion_terratorch.datamodules import (
    BadTileReport,
    GeoTiffPairDataModule,
    MultiSourcePairDataModule,
    SSL4EOS12PairDataModule,
)
from axion_terratorch.datamodules.sampling import ResumableRandomSampler
from axion_terratorch.datasets import TileOptions
from axion_terratorch.datasets.windows import SampleIndex

from run_configs import REPO, SHARED_DATA, SHARED_SSL4EO

#: What a source needs to be built; the combined module's tiles apply to it.
SOURCE_TILES = TileOptions(stage2_proxy=True)


def sources(root, ssl4eo_tiles=SOURCE_TILES):
    """A GeoTIFF folder (4 tiles of 60 px, list-file splits) and SSL4EO-S12 (2 locations x 2 seasons, 48 px)."""
    for index in range(4):
        write_per_band_pair(root / "pairs", f"t{index}", size=60, seed=index)
    lists = {"train": ["t0", "t1"], "val": ["t2"], "test": ["t3"]}
    for split, names in lists.items():
        (root / f"{split}.txt").write_text("\n".join(names) + "\n")
    write_ssl4eo(root / "ssl4eo", locations=2, size=48, seasons=2)
    folder = GeoTiffPairDataModule(
        root / "pairs",
        **PER_BAND,
        split_files={split: str(root / f"{split}.txt") for split in lists},
        tiles=SOURCE_TILES,
    )
    ssl4eo = SSL4EOS12PairDataModule(
        root / "ssl4eo", seasons=2, val_ratio=0.5, test_ratio=0.0, split_seed=0, tiles=ssl4eo_tiles
    )
    return [folder, ssl4eo]


def test_each_split_is_the_sources_splits_with_one_tiles_setting(tmp_path):
    tiles = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True, on_bad_tile="skip")
    dm = MultiSourcePairDataModule(sources(tmp_path), tiles=tiles, eval_tile_size=48, batch_size=2)
    assert all(source.tiles is tiles for source in dm.sources)
    dm.setup("fit")
    dm.setup("test")
    ssl4eo = {split: dm.sources[1].build_dataset(split).names for split in ("train", "val")}
    assert dm.train_dataset.names == ["t0", "t1", *ssl4eo["train"]]
    assert dm.val_dataset.names == ["t2", *ssl4eo["val"]]
    assert dm.test_dataset.names == ["t3"]
    assert {name.split("_")[0] for name in ssl4eo["train"]}.isdisjoint(n.split("_")[0] for n in ssl4eo["val"])
    assert isinstance(dm.train_dataloader().sampler, ResumableRandomSampler)
    train = next(iter(dm.train_dataloader()))
    assert train["image"][SAR_KEY].shape == (2, 2, 32, 32)
    assert train["target"].shape == (2, 4, 32, 32)
    val = next(iter(dm.val_dataloader()))  # 60 px GeoTIFF tile centre-cropped, 48 px SSL4EO tile whole
    assert val["image"][OPTICAL_KEY].shape == (2, 4, 48, 48)
    assert bool(val["valid_mask"].all())
    trainer = fit_one_step(tiny_task(), dm)
    assert any(
        isinstance(callback, BadTileReport) for callback in trainer.callbacks
    )  # from the task's configure_callbacks


def test_source_caps_then_combined_caps(tmp_path):
    folder, ssl4eo = sources(tmp_path)
    ssl4eo.max_samples = 1
    dm = MultiSourcePairDataModule([folder, ssl4eo], tiles=TileOptions(bands=BANDS, stage2_proxy=True))
    dm.setup("fit")
    assert len(dm.train_dataset) == 3
    dm.max_samples = 2
    dm.setup("fit")
    assert dm.train_dataset.names == ["t0", "t1"]


def test_contradicting_source_tiles_name_the_source(tmp_path):
    contradicting = TileOptions(tile_size=64, stage2_proxy=True)
    with pytest.raises(ValueError, match=r"sources\[1\] \(SSL4EOS12PairDataModule\): tiles.tile_size=64"):
        MultiSourcePairDataModule(
            sources(tmp_path, ssl4eo_tiles=contradicting), tiles=TileOptions(tile_size=32, stage2_proxy=True)
        )


def test_tile_names_must_be_unique_across_sources(tmp_path):
    folder, _ = sources(tmp_path)
    dm = MultiSourcePairDataModule([folder, folder], tiles=TileOptions(stage2_proxy=True))
    with pytest.raises(ValueError, match=r"tile 't0' is in sources\[0\].*and in sources\[1\]"):
        dm.setup("fit")


def bigearthnet_locations():
    """BigEarthNet tile name (``<row>_<col>``) -> location, the MGRS tile in its S1 folder name."""
    folders = (SHARED_DATA / "BigEarthNet-S1-v1.0").iterdir()
    return {"_".join(f.name.split("_")[-2:]): f.name.split("_")[-3] for f in folders}


@pytest.mark.skipif(
    not (SHARED_DATA.is_dir() and SHARED_SSL4EO.is_dir()), reason="real example data not present"
)
def test_real_pairs_config_holds_out_by_location(monkeypatch):
    monkeypatch.chdir(REPO)  # the config's paths are relative to the checkout root
    parser = ArgumentParser()
    parser.add_subclass_arguments(LightningDataModule, "data")
    raw = yaml.safe_load((REPO / "configs" / "data" / "real_pairs.yaml").read_text())
    dm = parser.instantiate(parser.parse_object(raw)).data
    assert isinstance(dm, MultiSourcePairDataModule)
    dm.setup("fit")
    dm.setup("test")
    splits = {"train": dm.train_dataset, "val": dm.val_dataset, "test": dm.test_dataset}
    assert {split: dataset.names for split, dataset in splits.items()} == {
        "train": ["36_85", "4_55", "56_35", "0000000_0", "0000000_1"],
        "val": ["69_24"],
        "test": ["87_48"],
    }
    mgrs = bigearthnet_locations()
    location = lambda name: mgrs.get(name) or f"ssl4eo-{name.split('_')[0]}"
    locations = {split: {location(n) for n in dataset.names} for split, dataset in splits.items()}
    assert locations == {"train": {"29UPU", "29SND", "ssl4eo-0000000"}, "val": {"35VPK"}, "test": {"33UUP"}}
    assert mgrs["57_38"] == "35VPK"  # the snow pair is left out: its location is the validation one

    train = next(iter(dm.train_dataloader()))
    assert set(train) == {"image", "target", "valid_mask", "error_mask", "filename"}
    assert set(train["filename"]) <= set(splits["train"].names)
    assert set(train["image"]) == {SAR_KEY, OPTICAL_KEY}
    assert train["image"][SAR_KEY].shape == (4, 2, 96, 96)
    assert train["image"][OPTICAL_KEY].shape == train["target"].shape == (4, 4, 96, 96)
    assert train["valid_mask"].shape == (4, 1, 96, 96)
    assert train["valid_mask"].dtype == torch.bool
    for loader in (dm.val_dataloader(), dm.test_dataloader()):  # held-out tiles evaluated whole
        batch = next(iter(loader))
        assert batch["target"].shape == (1, 4, 120, 120)
        assert bool(batch["valid_mask"].all())
        assert -30 < float(batch["image"][SAR_KEY].mean()) < 0
        assert 0 < float(batch["target"].mean()) < 0.5


def test_train_repeats_passes_over_every_tile_each_time_with_new_crops(tmp_path):
    tiles = TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True)
    dm = MultiSourcePairDataModule(
        sources(tmp_path), tiles=tiles, batch_size=2, train_repeats=3, augment=False
    )
    dm.setup("fit")
    tiles_per_epoch = len(dm.train_dataset)
    loader = dm.train_dataloader()
    order = list(loader.sampler)
    assert len(order) == 3 * tiles_per_epoch
    for start in range(0, len(order), tiles_per_epoch):
        assert sorted(order[start : start + tiles_per_epoch]) == list(range(tiles_per_epoch))
    assert len(loader) == 3 * tiles_per_epoch // 2
    torch.manual_seed(0)  # the crops come from torch's generator, seeded by Lightning in a run
    first, second = (dm.train_dataset[0]["target"] for _ in range(2))
    assert not torch.equal(first, second)
    sampler = ResumableRandomSampler(range(5), seed=1, repeats=2)
    sampler.skip(7)
    assert list(sampler) == list(ResumableRandomSampler(range(5), seed=1, repeats=2))[7:]
    with pytest.raises(ValueError, match="train_repeats"):
        MultiSourcePairDataModule(sources(tmp_path / "x"), tiles=tiles, train_repeats=0)


@pytest.mark.parametrize("resample", [True, False])
def test_resample_proxy_draws_a_new_stage2_input_per_training_read_only(tmp_path, resample):
    # 60 px tiles read whole: the window is fixed, only the proxy can change between reads.
    tiles = TileOptions(bands=BANDS, tile_size=60, stage2_proxy=True, resample_proxy=resample)
    dm = MultiSourcePairDataModule(sources(tmp_path), tiles=tiles, augment=False)
    dm.setup("fit")
    index = dm.train_dataset.names.index("t0")
    # The training sampler yields indices that carry the seed of their draws (crop and proxy).
    first, second = (dm.train_dataset[SampleIndex(index, seed)] for seed in (1, 2))
    assert torch.equal(first["target"], second["target"])
    same_input = torch.equal(first["image"][OPTICAL_KEY], second["image"][OPTICAL_KEY])
    assert same_input is not resample
    again = dm.train_dataset[SampleIndex(index, 1)]  # a resumed run draws the same
    assert torch.equal(again["image"][OPTICAL_KEY], first["image"][OPTICAL_KEY])
    # Validation keeps each tile's fixed draw: the same with and without resampling.
    val = dm.val_dataset[0]["image"][OPTICAL_KEY]
    assert torch.equal(val, dm.val_dataset[0]["image"][OPTICAL_KEY])
    fixed = MultiSourcePairDataModule(
        sources(tmp_path / "fixed"), tiles=TileOptions(bands=BANDS, tile_size=60, stage2_proxy=True)
    )
    fixed.setup("fit")
    assert torch.equal(val, fixed.val_dataset[0]["image"][OPTICAL_KEY])
