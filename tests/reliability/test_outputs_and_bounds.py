"""Issue 22: no subcommand writes over a file it reads (same path, symbolic or hard link), and the work a
file or option asks for is bounded; each refusal is one line, exit 2, before anything is written."""

import copy
import os
import re
import time
from pathlib import Path

import pytest
import torch
import yaml
from inference.scene_data import TINY_CONFIG, write_pair

from axion_terratorch.cli import main
from axion_terratorch.output_files import check_outputs

from run_configs import REPO

#: A 1 KB YAML whose aliases expand to 9**9 (387 million) strings.
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def one_line(capsys, code: int) -> str:
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def scene(tmp_path):
    s1, optical = write_pair(tmp_path / "scene", 32, 32)
    ckpt = tmp_path / "my.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"model": TINY_CONFIG}}, ckpt)
    return {"s1": s1, "optical": optical, "ckpt": ckpt}


def predict(scene, output, *extra):
    paths = ("--checkpoint", scene["ckpt"], "--s1", scene["s1"], "--optical", scene["optical"])
    return ["predict", *map(str, paths), "--output", str(output), "--quiet", "--no-lpips", *extra]


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_predict_never_writes_over_its_checkpoint(tmp_path, scene, capsys, link):
    """The reported case: ``--output my.ckpt --checkpoint my.ckpt`` exited 0 with a GeoTIFF checkpoint."""
    before = scene["ckpt"].read_bytes()
    output = {"same": scene["ckpt"], "symlink": tmp_path / "out.tif", "hardlink": tmp_path / "out.tif"}[link]
    if link == "symlink":
        output.symlink_to(scene["ckpt"])
    elif link == "hardlink":
        os.link(scene["ckpt"], output)
    err = one_line(capsys, main(predict(scene, output)))
    assert "would overwrite the checkpoint input" in err
    assert scene["ckpt"].read_bytes() == before


def test_predict_sidecar_never_writes_over_its_config(tmp_path, scene, capsys):
    config = tmp_path / "out.json"
    config.write_text(yaml.safe_dump({"model": {"init_args": {"model": TINY_CONFIG}}}))
    err = one_line(capsys, main(predict(scene, tmp_path / "out.tif", "--config", str(config))))
    assert "sidecar" in err
    assert "would overwrite the config input" in err


def test_check_report_never_writes_over_a_hard_link_of_its_input(tmp_path, scene, capsys):
    report = tmp_path / "report.json"
    os.link(scene["s1"], report)
    paths = ("--s1", scene["s1"], "--optical", scene["optical"], "--grounded", scene["optical"])
    err = one_line(capsys, main(["check", *map(str, paths), "--json", str(report), "--no-lpips"]))
    assert "would overwrite the s1 input" in err


def test_memory_report_never_writes_over_its_config(tmp_path, capsys):
    config = tmp_path / "demo.yaml"
    config.write_text((REPO / "configs" / "stage3.demo.yaml").read_text())
    before = config.read_text()
    err = one_line(capsys, main(["memory-report", "-c", str(config), "--json", str(config)]))
    assert "--json" in err
    assert "would overwrite the --config input" in err
    assert config.read_text() == before


def test_evaluate_never_writes_over_its_baseline(tmp_path, capsys):
    """The reported case: ``--output-dir ev --baseline ev/tiles.csv`` replaced the baseline."""
    folder = tmp_path / "ev"
    folder.mkdir()
    baseline = folder / "tiles.csv"
    baseline.write_text("tile,sar_agreement\na,0.5\n")
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump({"data": {"class_path": "x"}}))
    args = ["evaluate", "--identity", "--data", str(data), "--output-dir", str(folder)]
    err = one_line(capsys, main([*args, "--baseline", str(baseline)]))
    assert "tiles.csv would overwrite the --baseline input" in err
    # a hard link of the baseline under another report name
    other = tmp_path / "base.csv"
    baseline.rename(other)
    os.link(other, folder / "summary.json")
    err = one_line(capsys, main([*args, "--baseline", str(other)]))
    assert "summary.json would overwrite the --baseline input" in err
    # --compare writes comparison.json only
    os.link(other, folder / "comparison.json")
    err = one_line(
        capsys, main(["evaluate", "--compare", str(other), str(other), "--output-dir", str(folder)])
    )
    assert "comparison.json would overwrite the baseline input" in err


def test_export_never_replaces_a_folder_holding_its_config(tmp_path, scene, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    config = folder / "run.yaml"
    config.write_text(yaml.safe_dump({"model": {"init_args": {"model": TINY_CONFIG}}}))
    args = ["export", "--checkpoint", str(scene["ckpt"]), "--output", str(folder), "--config", str(config)]
    err = one_line(capsys, main([*args, "--overwrite"]))
    assert f"--overwrite refuses to replace {folder}: it holds the config {config}" in err
    assert config.exists()


def test_train_output_dir_is_not_its_data_dir(tmp_path, capsys):
    data = tmp_path / "tiles"
    data.mkdir()
    config = REPO / "configs" / "stage3.demo.yaml"
    err = one_line(
        capsys, main(["train", "-c", str(config), "--data-dir", str(data), "--output-dir", str(data)])
    )
    assert "--output-dir" in err
    assert "the --data-dir input" in err


def test_outputs_that_do_not_exist_yet_are_compared_by_path(tmp_path):
    check_outputs({"a": tmp_path / "x" / ".." / "out.tif"}, {"b": tmp_path / "in.tif"})
    with pytest.raises(ValueError, match=r"a .*out\.tif would overwrite the b input"):
        check_outputs({"a": tmp_path / "x" / ".." / "out.tif"}, {"b": tmp_path / "out.tif"})


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--window", "1", "--overlap", "0"], r"--window 1: must be an integer from 16 to 8192"),
        (["--window", "64", "--overlap", "40"], r"--overlap 40 is more than half of --window 64"),
        (["--batch-size", "0"], r"--batch-size 0: must be an integer from 1 to 4096"),
        (["--timesteps", "100000"], r"--timesteps 100000: must be an integer from 1 to 1000"),
    ],
)
def test_predict_work_is_bounded(tmp_path, scene, capsys, extra, expected):
    """The reported case: ``--window 1 --overlap 0`` on 256 px ran 65,536 windows past 75 s."""
    err = one_line(capsys, main(predict(scene, tmp_path / "out.tif", *extra)))
    assert re.search(expected, err), err
    assert not (tmp_path / "out.tif").exists()


def test_memory_report_tile_size_is_bounded(capsys):
    """The reported case: ``--tile-size 1000000000`` gave a raw traceback and exit 1 (over budget)."""
    config = REPO / "configs" / "stage3.demo.yaml"
    err = one_line(capsys, main(["memory-report", "-c", str(config), "--tile-size", "1000000000"]))
    assert "--tile-size 1000000000: must be an integer from 16 to 8192" in err


@pytest.mark.parametrize("command", ["predict", "memory-report", "train"])
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, scene, capsys, command):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    args = {
        "predict": predict(scene, tmp_path / "out.tif", "--config", str(bomb)),
        "memory-report": ["memory-report", "-c", str(bomb)],
        "train": ["train", "-c", str(bomb), "--smoke"],
    }[command]
    start = time.perf_counter()
    err = one_line(capsys, main(args))
    assert time.perf_counter() - start < 1.0
    assert "bomb.yaml: the YAML expands to" in err
    assert "alias bomb" in err


def test_a_huge_decoder_in_a_checkpoint_is_refused_before_allocating(tmp_path, scene, capsys):
    """The reported case: ``decoder_channels: 300000`` tried to allocate 202 GB (raw RuntimeError)."""
    config = copy.deepcopy(TINY_CONFIG)
    config["init_args"]["decoder_channels"] = 300000
    torch.save({"state_dict": {}, "hyper_parameters": {"model": config}}, scene["ckpt"])
    err = one_line(capsys, main(predict(scene, tmp_path / "out.tif")))
    assert "decoder_channels: expected an integer in [1, 4096], got 300000" in err
    assert Path(scene["ckpt"]).name in err


def test_train_names_a_class_path_that_cannot_be_imported(tmp_path, capsys):
    """The reported case: ``train --smoke --config`` naming a missing module printed a 68-line usage."""
    config = yaml.safe_load((REPO / "configs" / "stage3.demo.yaml").read_text())
    config["model"]["init_args"]["model"]["class_path"] = "nosuchmodule_axion.Foo"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    err = one_line(capsys, main(["train", "-c", str(path), "--smoke"]))
    assert "model.init_args.model.class_path: cannot import 'nosuchmodule_axion.Foo'" in err
