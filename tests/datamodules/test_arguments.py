"""Every real-data module's arguments, its own and those it passes on with ``**kwargs``, are typed
configuration keys: listed by ``terratorch fit --print_config``, checked, typos refused."""

import pytest
from jsonargparse import ArgumentParser

from axion_terratorch.datamodules import (
    BigEarthNetPairDataModule,
    GeoTiffPairDataModule,
    MultiSourcePairDataModule,
    NpzTileDataModule,
    SEN12MSCRPairDataModule,
    SEN12MSPairDataModule,
    SSL4EOS12PairDataModule,
)

LOADER = {"tiles", "batch_size", "num_workers", "augment", "max_samples", "max_eval_samples", "train_repeats"}
SPLITS = {"split_files", "val_ratio", "test_ratio", "split_seed"}
MODULES = [
    (GeoTiffPairDataModule, LOADER | SPLITS | {"root", "s1_pattern", "reproject_s1"}),
    (NpzTileDataModule, LOADER | SPLITS | {"root"}),
    (SSL4EOS12PairDataModule, LOADER | SPLITS | {"root", "s2_level", "seasons", "download"}),
    (SEN12MSPairDataModule, LOADER | {"root", "val_ratio", "split_seed"}),
    (SEN12MSCRPairDataModule, LOADER | SPLITS | {"root", "stage2_input"}),
    (BigEarthNetPairDataModule, LOADER | {"root", "version", "download"}),
    (MultiSourcePairDataModule, LOADER | {"sources", "eval_tile_size"}),
]


def parser_of(module_class):
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(module_class, "data")
    return parser


@pytest.mark.parametrize(("module_class", "expected"), MODULES, ids=[m.__name__ for m, _ in MODULES])
def test_inherited_arguments_are_configuration_keys(module_class, expected):
    parser = parser_of(module_class)
    keys = set(vars(parser.get_defaults().data))
    assert expected <= keys
    assert "kwargs" not in keys


def test_inherited_arguments_are_type_checked_and_typos_refused():
    parser = parser_of(NpzTileDataModule)
    config = parser.parse_args(["--data.root=tiles", "--data.batch_size=3", "--data.val_ratio=0.2"])
    assert (config.data.batch_size, config.data.val_ratio) == (3, 0.2)
    with pytest.raises(Exception, match="batch_size"):
        parser.parse_args(["--data.root=tiles", "--data.batch_size=three"])
    with pytest.raises(Exception, match="batch_sise"):
        parser.parse_args(["--data.root=tiles", "--data.batch_sise=3"])
