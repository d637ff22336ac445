"""``axion-stage3 predict`` in-process, and ``terratorch predict`` with the task."""

import json

import numpy as np
import pytest
import rasterio
import torch
from inference.scene_data import tiny_model, write_checkpoint, write_pair
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.cli import main
from axion_terratorch.inference.quality import QualityCheck
from axion_terratorch.inference.sidecar import VERDICT_SCORES

from run_configs import tiny_run_config


def test_predict_writes_a_geotiff_and_its_sidecar(tmp_path, capsys, monkeypatch, recwarn):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no LPIPS weights here
    s1, opt = write_pair(tmp_path, 48, 40)
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    out = tmp_path / "out" / "grounded.tif"
    args = [
        "predict",
        "--checkpoint",
        str(ckpt),
        "--s1",
        str(s1),
        "--optical",
        str(opt),
        "--output",
        str(out),
        "--window",
        "32",
        "--overlap",
        "8",
        "--batch-size",
        "2",
        "--quiet",
        "--dn",
    ]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "grounded.tif" in printed.out
    note = (
        f"LPIPS left out: torchvision's 'alex' weights are not in {tmp_path / 'hub' / 'checkpoints'}; --lpips"
    )
    assert [line[: len(note)] for line in printed.err.splitlines()] == [note]  # one line, no download
    assert not [w for w in recwarn.list if "lpips" in str(w.message).lower() or "download" in str(w.message)]
    with rasterio.open(out) as dst, rasterio.open(opt) as src:
        assert dst.dtypes[0] == "uint16"
        assert (dst.crs, dst.transform, dst.shape, dst.nodata) == (
            src.crs,
            src.transform,
            src.shape,
            src.nodata,
        )
        assert dst.descriptions == src.descriptions
        assert not np.array_equal(dst.read(), src.read())
    sidecar = json.loads(out.with_suffix(".json").read_text())
    verdict = QualityCheck().verdict(*(sidecar[key] for key in VERDICT_SCORES))  # the sidecar's own scores
    assert (sidecar["quality_flag"], sidecar["quality_reasons"]) == (verdict.flag, list(verdict.reasons))
    assert sidecar["settings"]["window"] == 32
    assert sidecar["lpips_change"] is None


def test_predict_bad_input_exits_2_naming_the_file_and_writes_nothing(tmp_path, capsys):
    s1, _ = write_pair(tmp_path, 32, 32)
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    out = tmp_path / "out" / "grounded.tif"
    args = [
        "predict",
        "--checkpoint",
        str(ckpt),
        "--s1",
        str(s1),
        "--optical",
        str(tmp_path / "nope.tif"),
        "--output",
        str(out),
        "--quiet",
    ]
    assert main(args) == 2
    assert "nope.tif" in capsys.readouterr().err
    assert not out.parent.exists()


@pytest.mark.slow
def test_terratorch_predict_and_axion_predict_with_a_fit_checkpoint(demo_run, tmp_path):
    ckpt = demo_run.checkpoint
    predictions = tmp_path / "predictions"
    build_lightning_cli(
        [
            "predict",
            "-c",
            str(
                tiny_run_config(demo_run.config, tmp_path / "predict_run")
            ),  # its logs away from the shared run
            "--ckpt_path",
            str(ckpt),
            "--predict_output_dir",
            str(predictions),
        ]
    )
    (saved,) = predictions.glob("*.pt")  # terratorch's writer saves each batch's tensor
    assert torch.load(saved).shape == (2, 4, 32, 32)
    s1, opt = write_pair(tmp_path / "scene", 40, 40)
    out = tmp_path / "grounded.tif"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(ckpt),
                "--s1",
                str(s1),
                "--optical",
                str(opt),
                "--output",
                str(out),
                "--overlap",
                "8",
                "--window",
                "32",
                "--no-lpips",
                "--quiet",
            ]
        )
        == 0
    )
    assert out.is_file()
