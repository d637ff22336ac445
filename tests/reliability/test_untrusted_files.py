"""Checkpoints, adapters, configs and tile names from others: no code runs, no path leaves its folder."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from inference.scene_data import TINY_CONFIG
from safetensors import SafetensorError
from tile_writers import write_npz

from axion_terratorch.checkpoint_io import AtomicCheckpointIO
from axion_terratorch.checkpoints.export import (
    CONFIG_FILE,
    EXTRA_FILE,
    MERGED_FILE,
    export_checkpoint,
    load_export,
)
from axion_terratorch.checkpoints.loading import CheckpointError, load_model, read_checkpoint
from axion_terratorch.checkpoints.selection import _checkpoint_metrics
from axion_terratorch.datasets import BadTileError, NpzTileDataset, TileOptions
from axion_terratorch.datasets.stage2 import Stage2Source
from axion_terratorch.models.terramind_generation import load_checkpoint


class CreatesFile:
    """Unpickling this object creates ``path``: the proof that a loader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
def crafted(tmp_path):
    """A Lightning-looking checkpoint whose unpickling would create ``tmp_path/pwned``."""
    marker = tmp_path / "pwned"
    path = tmp_path / "shared.ckpt"
    torch.save(
        {"state_dict": {"model.w": torch.zeros(1)}, "global_step": 3, "payload": CreatesFile(marker)}, path
    )
    torch.load(path, weights_only=False)  # the file is a live exploit: an unsafe load runs it
    assert marker.exists()
    marker.unlink()
    return path, marker


def test_inference_checkpoint_loaders_refuse_a_crafted_pickle(crafted):
    path, marker = crafted
    for load in (read_checkpoint, load_model, lambda p: export_checkpoint(p, p.parent / "export")):
        with pytest.raises(CheckpointError, match=r"shared\.ckpt cannot be loaded safely"):
            load(path)
    assert not marker.exists()
    assert not (path.parent / "export").exists()


def test_other_weight_loaders_refuse_a_crafted_pickle(crafted):
    """Checkpoint ranking, TerraMind ``ckpt_path`` (ours and terratorch's) and Lightning's resume."""
    path, marker = crafted
    from terratorch.registry import BACKBONE_REGISTRY

    loaders = {
        "selection._checkpoint_metrics": lambda: _checkpoint_metrics(path),
        "terramind_generation.load_checkpoint": lambda: load_checkpoint(None, path),
        "terratorch terramind_v1_tiny ckpt_path": lambda: BACKBONE_REGISTRY.build(
            "terramind_v1_tiny", modalities=["S2L2A", "S1GRD"], pretrained=False, ckpt_path=str(path)
        ),
        "trainer resume (AtomicCheckpointIO.load_checkpoint)": lambda: AtomicCheckpointIO().load_checkpoint(
            path
        ),
    }
    for name, load in loaders.items():
        refused = CheckpointError if name.startswith("selection") else pickle.UnpicklingError
        with pytest.raises(refused, match="Weights only load failed"):
            load()
        assert not marker.exists(), name


def test_checkpoint_hyperparameters_cannot_name_an_arbitrary_callable(tmp_path):
    """A function (here one that would write a file) is no model of the package: refused unimported."""
    marker = tmp_path / "pwned"
    path = tmp_path / "hparams.ckpt"
    model = {"class_path": "torch.save", "init_args": {"obj": 1, "f": str(marker)}}
    torch.save({"state_dict": {}, "hyper_parameters": {"model": model}}, path)
    with pytest.raises(
        CheckpointError, match=r"names 'torch\.save', which is not one of this package's models"
    ):
        load_model(path)
    assert not marker.exists()


def test_export_folder_loader_reads_only_yaml_and_safetensors(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / CONFIG_FILE).write_text(f"kind: !!python/object/apply:pathlib.Path.touch ['{marker}']\n")
    with pytest.raises(CheckpointError, match=r"config\.yaml: not valid YAML"):
        load_export(folder)
    assert not marker.exists()
    # a weights file that is a pickle in disguise is refused by safetensors
    (folder / CONFIG_FILE).write_text(yaml.safe_dump({"kind": "merged", "model": TINY_CONFIG}))
    torch.save({"w": CreatesFile(marker)}, folder / MERGED_FILE)
    with pytest.raises(CheckpointError, match=r"cannot read .*model\.safetensors"):
        load_export(folder)
    (folder / CONFIG_FILE).write_text(
        yaml.safe_dump({"kind": "adapter", "model": TINY_CONFIG, "adapters": {}})
    )
    torch.save({"w": CreatesFile(marker)}, folder / EXTRA_FILE)
    with pytest.raises(SafetensorError):
        load_export(folder, base=torch.nn.Linear(1, 1))
    assert not marker.exists()


def test_npz_tiles_with_object_arrays_are_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    path = write_npz(tmp_path / "tiles", "a", size=8)
    arrays = dict(np.load(path))
    arrays["s1_vv"] = np.full((8, 8), CreatesFile(marker), dtype=object)
    np.savez(path, **arrays)
    dataset = NpzTileDataset([path], TileOptions(tile_size=None, stage2_proxy=True))
    with pytest.raises(ValueError, match=r"a\.npz.*Object arrays cannot be loaded"):
        dataset[0]
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../outside", "../../outside", "/tmp/outside", ".."])
def test_stage2_lookup_stays_inside_stage2_dir(tmp_path, name):
    stage2 = tmp_path / "data" / "stage2"
    stage2.mkdir(parents=True)
    for folder in (tmp_path, tmp_path / "data"):
        np.savez(folder / "outside.npz", opt_v2=np.zeros((4, 8, 8), np.float32))
    options = TileOptions(stage2_dir=str(stage2))
    assert Stage2Source(options).find(name) is None
    assert Stage2Source(options).missing([name], "test") == [name]


def test_a_stage2_file_linking_out_of_stage2_dir_is_refused(tmp_path):
    tiles, stage2 = tmp_path / "tiles", tmp_path / "stage2"
    path = write_npz(tiles, "a", size=8)
    stage2.mkdir()
    secret = tmp_path / "elsewhere" / "secret.npz"
    secret.parent.mkdir()
    np.savez(secret, opt_v2=np.zeros((4, 8, 8), np.float32))
    options = TileOptions(tile_size=None, stage2_dir=str(stage2))
    message = r"stage2/a\.npz is a symbolic link to .*secret\.npz, outside stage2_dir="
    np.savez(stage2 / "a.npz", opt_v2=np.ones((4, 8, 8), np.float32))
    dataset = NpzTileDataset([path], options)  # a plain file at setup
    (stage2 / "a.npz").unlink()
    (stage2 / "a.npz").symlink_to(secret)
    with pytest.raises(BadTileError, match=message):  # swapped for a link after setup
        dataset[0]
    with pytest.raises(BadTileError, match=message):  # a link at setup
        NpzTileDataset([path], options)
    # a link that stays inside stage2_dir is an ordinary file
    (stage2 / "a.npz").unlink()
    (stage2 / "real").mkdir()
    np.savez(stage2 / "real" / "a.npz", opt_v2=np.zeros((4, 8, 8), np.float32))
    (stage2 / "a.npz").symlink_to(stage2 / "real" / "a.npz")
    assert Stage2Source(options).problems(["a"], "test") == {}
    assert NpzTileDataset([path], options)[0] is not None
