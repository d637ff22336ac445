"""Bad input to ``axion-stage3 predict/evaluate/export`` ends in one line naming the file or key, exit 2.

Each case runs the real command in-process (``main([...])``) and checks the exit status, that stderr
is one line holding the expected words, and that no traceback is printed. ``train`` has its cases in
``test_axion_stage3_train.py``, ``terratorch fit --ckpt_path`` in ``test_terratorch_fit.py``.
"""

import contextlib
import copy
import re
import shutil
import subprocess

import numpy as np
import pytest
import rasterio
import torch
import yaml
from inference.scene_data import TINY_CONFIG, tiny_model, write_checkpoint, write_pair, write_raster

from axion_terratorch.cli import main

DATA = {
    "class_path": "axion_terratorch.datamodules.SyntheticGroundingDataModule",
    "init_args": {"num_train": 1, "num_val": 1, "num_test": 2, "tile_size": 32, "batch_size": 2},
}


def one_line_error(capsys, code: int) -> str:
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def other_config(change: str) -> dict:
    """TINY_CONFIG with one model setting changed: the tiny model's weights then do not fit it."""
    config = copy.deepcopy(TINY_CONFIG)
    init = config["init_args"]
    match change:
        case "decoder width":
            init["decoder_channels"] = 16
        case "LoRA rank":
            init["lora"]["rank"] = 4
        case "band count":
            init["bands"] = ["B02", "B03", "B04"]
    return config


@pytest.fixture
def scene(tmp_path):
    s1, optical = write_pair(tmp_path / "scene", 32, 32)
    return {"s1": s1, "optical": optical, "ckpt": write_checkpoint(tiny_model(), tmp_path / "model.ckpt")}


def predict_args(scene, output, *extra):
    return [
        "predict",
        "--checkpoint",
        str(scene["ckpt"]),
        "--s1",
        str(scene["s1"]),
        "--optical",
        str(scene["optical"]),
        "--output",
        str(output),
        "--quiet",
        "--no-lpips",
        *extra,
    ]


@pytest.mark.parametrize("change", ["decoder width", "LoRA rank", "band count"])
@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_checkpoint_of_another_model_configuration(tmp_path, scene, capsys, command, change):
    bad = write_checkpoint(tiny_model(), tmp_path / "other.ckpt", config=other_config(change))
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"data": DATA}))
    args = {
        "predict": predict_args({**scene, "ckpt": bad}, tmp_path / "out.tif"),
        "evaluate": [
            "evaluate",
            "--checkpoint",
            str(bad),
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path / "r"),
        ],
        "export": ["export", "--checkpoint", str(bad), "--output", str(tmp_path / "export")],
    }[command]
    err = one_line_error(capsys, main(args))
    assert re.search(r"other\.ckpt: the weights do not fit .* another model configuration", err)
    assert "--config" in err  # the fix


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        ("model: [unclosed\n  data: {", "not valid YAML at line 2"),
        ("- just\n- a list\n", "expected a YAML mapping"),
    ],
)
@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_missing_or_malformed_config_yaml(tmp_path, scene, capsys, command, content, expected):
    config = tmp_path / "run.yaml"
    if content is not None:
        config.write_text(content)
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"data": DATA}))
    args = {
        "predict": predict_args(scene, tmp_path / "out.tif"),
        "evaluate": [
            "evaluate",
            "--checkpoint",
            str(scene["ckpt"]),
            "--data",
            str(data),
            "--output-dir",
            "r",
        ],
        "export": ["export", "--checkpoint", str(scene["ckpt"]), "--output", str(tmp_path / "export")],
    }[command]
    err = one_line_error(capsys, main([*args, "--config", str(config)]))
    assert f"--config {config}" in err
    assert expected in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_cuda_device_without_a_gpu(tmp_path, scene, capsys, command):
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"data": DATA}))
    args = {
        "predict": predict_args(scene, tmp_path / "out.tif"),
        "evaluate": ["evaluate", "--identity", "--data", str(data), "--output-dir", str(tmp_path / "r")],
    }[command]
    err = one_line_error(capsys, main([*args, "--device", "cuda"]))
    assert "--device cuda: no CUDA GPU is available" in err
    assert "--device cpu" in err


def test_truncated_geotiff_with_an_intact_index_is_refused_before_the_work(tmp_path, scene, capsys):
    """The header and block index survive, the pixel data of the last blocks do not (a cut download)."""
    sar = np.random.default_rng(0).uniform(-20, -5, (2, 512, 512)).astype(np.float32)
    s1 = write_raster(tmp_path / "s1_cut.tif", sar, ["VV", "VH"])
    with rasterio.open(s1) as src:  # rewritten as a tiled file whose index sits before the data
        profile = src.profile
    tiled = tmp_path / "s1_tiled.tif"
    with rasterio.open(tiled, "w", **{**profile, "tiled": True, "blockxsize": 128, "blockysize": 128}) as dst:
        dst.write(sar)
    data = tiled.read_bytes()
    with rasterio.open(tiled) as src:
        assert int(src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)) < len(data) // 2  # index first
    tiled.write_bytes(data[: int(len(data) * 0.8)])
    _, optical = write_pair(tmp_path / "big", 512, 512)
    out = tmp_path / "out" / "grounded.tif"
    err = one_line_error(capsys, main(predict_args({**scene, "s1": tiled, "optical": optical}, out)))
    assert re.search(
        r"s1_tiled\.tif: truncated: band \d, block .* ends at byte \d+ but the file has \d+ bytes", err
    )
    assert not out.parent.exists()


def test_scene_too_large_for_the_free_disk_space(tmp_path, scene, capsys):
    """A sparse 100000 x 100000 px optical file: its temporary sum would need 160 GB."""
    profile = {
        "driver": "GTiff", "height": 100_000, "width": 100_000, "count": 4, "dtype": "uint16",
        "crs": "EPSG:32633", "transform": rasterio.transform.from_origin(500000, 5000000, 10, 10),
        "tiled": True, "blockxsize": 4096, "blockysize": 4096, "sparse_ok": True, "BIGTIFF": "YES",
    }  # fmt: skip
    with rasterio.open(tmp_path / "huge.tif", "w", **profile) as dst:
        for index, band in enumerate(TINY_CONFIG["init_args"]["bands"], 1):
            dst.set_band_description(index, band)
    assert (tmp_path / "huge.tif").stat().st_size < 10_000_000
    if shutil.disk_usage(tmp_path).free > 160e9:
        pytest.skip("this disk has 160 GB free")
    out = tmp_path / "out.tif"
    err = one_line_error(capsys, main(predict_args({**scene, "optical": tmp_path / "huge.tif"}, out)))
    assert re.search(
        r"100000 x 100000 px scene of 4 bands needs 160\.0 GB in .* but only [\d.]+ GB are free", err
    )
    assert "--output" in err


@contextlib.contextmanager
def read_only(folder):
    """``folder`` read-only: mode 0o555, and the immutable flag when running as root (which ignores modes)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = shutil.which("chattr") is not None
    if immutable:
        immutable = (
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode == 0
        )
    try:
        probe = folder / "probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("cannot make a folder read-only here")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def test_read_only_output_folder(tmp_path, scene, capsys):
    with read_only(tmp_path / "locked") as folder:
        err = one_line_error(capsys, main(predict_args(scene, folder / "grounded.tif")))
        assert f"output: cannot write in {folder}" in err
        data = tmp_path / "data.yaml"
        data.write_text(yaml.safe_dump({"data": DATA}))
        args = ["evaluate", "--identity", "--data", str(data), "--output-dir", str(folder / "report")]
        assert f"--output-dir: cannot write in {folder}" in one_line_error(capsys, main(args))


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04 truncated zip"])
def test_export_run_dir_over_bad_checkpoints(tmp_path, capsys, content):
    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    (run / "epoch=0-step=2.ckpt").write_bytes(content)
    args = ["export", "--run-dir", str(tmp_path / "run"), "--output", str(tmp_path / "export")]
    err = one_line_error(capsys, main(args))
    assert "epoch=0-step=2.ckpt" in err
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("data: {class_path: [\n", r"--data .*data\.yaml: not valid YAML at line \d+"),
        (
            yaml.safe_dump({"data": {**DATA, "init_args": {**DATA["init_args"], "batch_size": -2}}}),
            "batch_size",
        ),
        ("data:\n  init_args: {}\n", "has no data module class_path"),
    ],
)
def test_evaluate_with_a_malformed_data_yaml(tmp_path, capsys, data, words):
    assert re.search(words, evaluate_error(tmp_path, capsys, data))


def test_evaluate_with_a_missing_data_folder(tmp_path, capsys):
    config = {"data": {"class_path": "axion_terratorch.datamodules.NpzTileDataModule"}}
    config["data"]["init_args"] = {"root": str(tmp_path / "gone"), "tiles": {"stage2_proxy": True}}
    assert "gone" in evaluate_error(tmp_path, capsys, yaml.safe_dump(config))


def evaluate_error(tmp_path, capsys, data: str) -> str:
    """The one-line error of ``evaluate --identity`` over the data YAML text ``data``."""
    (tmp_path / "data.yaml").write_text(data)
    args = [
        "evaluate",
        "--identity",
        "--data",
        str(tmp_path / "data.yaml"),
        "--output-dir",
        str(tmp_path / "r"),
    ]
    return one_line_error(capsys, main(args))


def test_predict_negative_batch_size(tmp_path, scene, capsys):
    err = one_line_error(capsys, main(predict_args(scene, tmp_path / "out.tif", "--batch-size", "-1")))
    assert "--batch-size -1: must be an integer from 1 to 4096" in err
