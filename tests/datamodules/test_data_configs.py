"""The example data configs parse against the data modules' signatures; BigEarthNet's also runs."""

from pathlib import Path

import pytest
import yaml
from grounding_run import BANDS
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule

from run_configs import SHARED_DATA

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "data").glob("*.yaml"))


def parser():
    p = ArgumentParser()
    p.add_subclass_arguments(LightningDataModule, "data")
    return p


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_data_config_parses(path):
    config = parser().parse_object(yaml.safe_load(path.read_text()))
    assert config.data.class_path.startswith("axion_terratorch.datamodules.")
    assert tuple(config.data.init_args.tiles.bands) == BANDS


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="BigEarthNet v1 example not present")
@pytest.mark.parametrize("name", ["bigearthnet", "geotiff_bigearthnet"])
def test_bigearthnet_configs_load_the_example(name):
    raw = yaml.safe_load((CONFIGS[0].parent / f"{name}.yaml").read_text())
    raw["data"]["init_args"]["root"] = str(SHARED_DATA)
    p = parser()
    dm = p.instantiate_classes(p.parse_object(raw)).data
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["target"].shape == (2, 4, 96, 96)
