"""Tile splits and crop windows."""

import json

import numpy as np
import pytest
import torch

from axion_terratorch.datamodules.splits import assign_splits, ratio_split, read_split_list, sidecar_split
from axion_terratorch.datasets.windows import crop_or_pad


def test_ratio_split_is_seeded_disjoint_and_complete():
    names = [f"t{i}" for i in range(20)]
    splits = ratio_split(names, 0.2, 0.1, seed=1)
    shuffled = ratio_split(list(reversed(names)), 0.2, 0.1, seed=1)
    assert {k: set(v) for k, v in shuffled.items()} == {k: set(v) for k, v in splits.items()}
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (14, 4, 2)
    assert sorted(name for tiles in splits.values() for name in tiles) == sorted(names)
    assert ratio_split(names, 0.2, 0.1, seed=2) != splits


def test_ratio_split_keeps_groups_together():
    names = [f"{loc:07}_{season}" for loc in range(10) for season in range(4)]
    splits = ratio_split(names, 0.2, 0.2, seed=0, group=lambda n: n.split("_")[0])
    locations = {split: {n.split("_")[0] for n in tiles} for split, tiles in splits.items()}
    assert not locations["train"] & locations["val"]
    assert not locations["train"] & locations["test"]
    assert all(len(tiles) % 4 == 0 for tiles in splits.values())


def test_ratio_split_rejects_ratios_leaving_no_training_tile():
    with pytest.raises(ValueError, match="val_ratio"):
        ratio_split(["a", "b"], 0.5, 0.5, seed=0)


def test_sidecars_and_list_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"split": "val"}))
    assert sidecar_split(tmp_path / "a.npz") == "val"
    assert sidecar_split(tmp_path / "b.npz") is None
    (tmp_path / "bad.json").write_text(json.dumps({"split": "training"}))
    with pytest.raises(ValueError, match=r"bad\.json.*training"):
        sidecar_split(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="'b' has no sidecar split"):
        assign_splits(["a", "b"], {"a": "val", "b": None}, None, 0.1, 0.1, 0)
    (tmp_path / "val.txt").write_text("# held out\nb.npz\n\n")
    splits = assign_splits(
        ["a", "b", "c"], {}, {"train": tmp_path / "val.txt", "val": tmp_path / "val.txt"}, 0, 0, 0
    )
    assert splits["val"] == ["b"]
    assert read_split_list(tmp_path / "val.txt") == ["b"]
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        read_split_list(tmp_path / "nope.txt")


def test_centre_crop_and_pad_are_deterministic_and_padding_is_invalid():
    image = np.arange(2 * 10 * 10, dtype=np.float32).reshape(2, 10, 10)
    valid = np.ones((1, 10, 10), bool)
    cropped, mask = crop_or_pad([image, valid], 6)
    assert np.array_equal(cropped, image[:, 2:8, 2:8])
    padded, mask = crop_or_pad([image, valid], 14)
    assert padded.shape == (2, 14, 14)
    assert np.array_equal(padded[:, 2:12, 2:12], image)
    assert mask.sum() == 100
    assert not mask[:, :2].any()


def test_random_crop_moves_all_arrays_together():
    image = np.arange(40 * 40, dtype=np.float32).reshape(1, 40, 40)
    torch.manual_seed(0)
    windows = {crop_or_pad([image, image * 2], 16, random=True)[0][0, 0, 0] for _ in range(10)}
    assert len(windows) > 1
    a, b = crop_or_pad([image, image * 2], 16, random=True)
    assert np.array_equal(b, a * 2)
