"""Why a checkpoint's weights do not fit a model: the tensors and config keys named in the messages."""

import torch

from axion_terratorch.state_dict_mismatch import config_differences, shape_mismatches, summary


def test_shape_mismatches_name_shared_keys_of_another_shape():
    model = {"a.weight": torch.zeros(4, 8), "b.weight": torch.zeros(3), "only_model": torch.zeros(1)}
    checkpoint = {"a.weight": torch.zeros(2, 8), "b.weight": torch.zeros(3), "only_ckpt": torch.zeros(1)}
    assert shape_mismatches(model, checkpoint) == ["a.weight: (2, 8) in the checkpoint, (4, 8) in the model"]


def test_config_differences_give_dotted_keys_and_both_values():
    saved = {"class_path": "M", "init_args": {"lora": {"rank": 8, "alpha": 16}, "bands": ("B02", "B03")}}
    current = {"class_path": "M", "init_args": {"lora": {"rank": 4, "alpha": 16}, "bands": ["B02", "B03"]}}
    assert config_differences(saved, current, "model") == [
        "model.init_args.lora.rank: 8 in the checkpoint, 4 now"
    ]
    assert config_differences({"a": 1}, {"a": 1, "b": 2}) == ["b: None in the checkpoint, 2 now"]


def test_summary_shows_three_and_counts_the_rest():
    assert summary(["a", "b"]) == "a; b"
    assert summary(["a", "b", "c", "d", "e"]) == "a; b; c (and 2 more)"
