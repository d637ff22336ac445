"""``predict`` replaces its GeoTIFF and sidecar together, refuses paths that collide, and leaves no
temporary file behind when it fails or is interrupted (SIGTERM to a real process running ``axion-stage3``)."""

import os
import signal
import time
from pathlib import Path

import pytest
from scene_data import tiny_model, write_checkpoint, write_pair

from axion_terratorch.cli import main

from forked import forked


def predict_args(ckpt: Path, s1: Path, opt: Path, out: Path, *extra: str) -> list[str]:
    return [
        "predict",
        *("--checkpoint", str(ckpt), "--s1", str(s1), "--optical", str(opt), "--output", str(out)),
        *("--window", "32", "--overlap", "8", "--no-lpips", "--quiet", *extra),
    ]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry of ``folder`` by name, with its bytes (``None`` for a folder)."""
    return {p.name: None if p.is_dir() else p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def scene(tmp_path):
    s1, opt = write_pair(tmp_path / "in", 40, 40)
    return write_checkpoint(tiny_model(), tmp_path / "model.ckpt"), s1, opt


def test_an_output_that_is_its_own_sidecar_is_refused(tmp_path, scene, capsys):
    out = tmp_path / "out" / "grounded.json"
    assert main(predict_args(*scene, out)) == 2
    error = capsys.readouterr().err.strip()
    assert "grounded.json is also its own sidecar path" in error
    assert len(error.splitlines()) == 1
    assert not out.parent.exists()


def test_a_sidecar_that_cannot_be_written_leaves_the_old_pair(tmp_path, scene, capsys):
    out = tmp_path / "out" / "grounded.tif"
    assert main(predict_args(*scene, out)) == 0
    before = snapshot(out.parent)
    assert set(before) == {"grounded.tif", "grounded.json"}
    # the next run's sidecar path is a folder: neither file may be replaced
    (out.parent / "grounded.json").unlink()
    (out.parent / "grounded.json").mkdir()
    capsys.readouterr()
    assert main(predict_args(*scene, out, "--dn")) == 2
    error = capsys.readouterr().err.strip()
    assert "grounded.json: it is a folder" in error
    assert len(error.splitlines()) == 1
    assert snapshot(out.parent) == {"grounded.tif": before["grounded.tif"], "grounded.json": None}


def test_stale_temporaries_of_the_same_output_are_removed_at_start(tmp_path, scene):
    out = tmp_path / "out" / "grounded.tif"
    out.parent.mkdir()
    stale = [".grounded.tif.k2x9_a0q.tmp", ".grounded.tif.7bq1zzx3.sum.tif", ".grounded.json.0a1b2c3d.tmp"]
    kept = [".grounded.tif.notes", ".other.tif.k2x9_a0q.tmp", "grounded.tif.k2x9_a0q.tmp"]
    for name in stale + kept:
        (out.parent / name).write_bytes(b"partial")
    assert main(predict_args(*scene, out)) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([*kept, "grounded.tif", "grounded.json"])


def test_sigterm_during_predict_removes_the_temporaries_and_keeps_the_old_pair(tmp_path, scene):
    ckpt, _, _ = scene
    s1, opt = write_pair(tmp_path / "big", 384, 384)  # 144 windows of 32 px: seconds of work
    out = tmp_path / "out" / "grounded.tif"
    assert main(predict_args(*scene[:1], s1, opt, out, "--window", "32")) == 0
    before = snapshot(out.parent)
    args = predict_args(ckpt, s1, opt, out, "--overlap", "0", "--batch-size", "1")
    log = tmp_path / "stderr.txt"
    process = forked(main, args, stderr=log)
    deadline = time.monotonic() + 240
    try:
        while not list(out.parent.glob(".grounded.tif.*.sum.tif")):  # pass 1 has started
            assert process.is_alive(), (process.exitcode, log.read_text())
            assert time.monotonic() < deadline, "predict did not start writing"
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGTERM)
        process.join(timeout=120)
    finally:
        if process.is_alive():
            process.kill()
            process.join()
    stderr = log.read_text()
    assert process.exitcode == 128 + signal.SIGTERM, stderr
    assert "interrupted (SIGTERM)" in stderr
    assert "Traceback" not in stderr
    assert snapshot(out.parent) == before


def test_check_refuses_a_report_path_that_is_one_of_its_inputs(tmp_path, scene, capsys):
    _, s1, opt = scene
    before = s1.read_bytes()
    args = ["check", "--s1", str(s1), "--optical", str(opt), "--grounded", str(opt), "--json", str(s1)]
    assert main([*args, "--no-lpips"]) == 2
    assert "would overwrite the s1 input" in capsys.readouterr().err
    assert s1.read_bytes() == before
