"""``axion-stage3 predict`` options of scene lists (no model run)."""

import argparse

import pytest

from axion_terratorch.cli import main
from axion_terratorch.cli.predict_scenes import trainer_devices


@pytest.mark.parametrize(
    ("device", "accelerator", "devices", "expected"),
    [
        ("cpu", None, None, ("cpu", 1)),
        ("cuda:1", None, None, ("gpu", [1])),
        ("cuda", "gpu", "4", ("gpu", 4)),
        ("cpu", None, "0,1", ("cpu", [0, 1])),
        ("cpu", "auto", "auto", ("auto", "auto")),
    ],
)
def test_trainer_devices_follow_device_unless_given(device, accelerator, devices, expected):
    args = argparse.Namespace(device=device, accelerator=accelerator, devices=devices)
    assert trainer_devices(args) == expected


def test_bad_devices_are_named():
    with pytest.raises(ValueError, match="--devices must be"):
        trainer_devices(argparse.Namespace(device="cpu", accelerator=None, devices="two"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --s1, --optical, --output"),
        (["--scenes", "a.csv"], "needs --output-dir"),
        (["--scenes", "a.csv", "--scenes-dir", "d", "--output-dir", "o"], "not both"),
        (["--scenes", "a.csv", "--output-dir", "o", "--output", "x.tif"], "give only --output-dir"),
    ],
)
def test_predict_refuses_incomplete_or_mixed_scene_options(tmp_path, capsys, args, message):
    assert main(["predict", "--checkpoint", str(tmp_path / "m.ckpt"), *args]) == 2
    assert message in capsys.readouterr().err
