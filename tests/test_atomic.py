"""Atomic writes: the old file survives a failed write; the new file has normal permissions."""

import os
import stat

import pytest
import torch

from axion_terratorch.atomic import atomic_path, atomic_paths, remove_stale_temporaries
from axion_terratorch.checkpoint_io import AtomicCheckpointIO


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")

    def write_then_fail():
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            msg = "disk full"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="disk full"):
        write_then_fail()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_new_file_replaces_the_old_with_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with atomic_path(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_unwritable_destination_error_names_the_path(tmp_path):
    blocker = tmp_path / "locked"
    blocker.write_text("a file where a folder should be")  # fails for root too, unlike permissions
    with pytest.raises(OSError, match="locked"), atomic_path(blocker / "x.ckpt"):
        pass


def test_checkpoint_io_keeps_the_last_good_checkpoint_when_a_save_fails(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"trunc")
        raise OSError(28, "No space left on device")

    stale = tmp_path / ".last.ckpt.abc12345.tmp"  # as a process killed mid-write leaves it
    stale.write_bytes(b"partial")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write checkpoint .*last\.ckpt"):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path, weights_only=True) == {"step": 1}
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def write_pair(tif, sidecar, fail_before_sidecar=False, sidecar_becomes_folder=False):
    with atomic_paths(tif, sidecar) as (tif_tmp, sidecar_tmp):
        tif_tmp.write_text("new raster")
        if fail_before_sidecar:
            msg = "sidecar failed"
            raise RuntimeError(msg)
        sidecar_tmp.write_text("new sidecar")
        if sidecar_becomes_folder:  # e.g. another program, while the raster was being written
            sidecar.unlink(missing_ok=True)
            sidecar.mkdir()


def test_a_group_of_files_is_replaced_only_when_every_write_succeeded(tmp_path):
    tif, sidecar = tmp_path / "out.tif", tmp_path / "out.json"
    tif.write_text("old raster")
    sidecar.write_text("old sidecar")
    with pytest.raises(RuntimeError, match="sidecar failed"):
        write_pair(tif, sidecar, fail_before_sidecar=True)
    assert (tif.read_text(), sidecar.read_text()) == ("old raster", "old sidecar")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.tif"]
    write_pair(tif, sidecar)
    assert (tif.read_text(), sidecar.read_text()) == ("new raster", "new sidecar")


def test_a_target_that_becomes_a_folder_stops_every_rename(tmp_path):
    tif, sidecar = tmp_path / "out.tif", tmp_path / "out.json"
    tif.write_text("old raster")
    with pytest.raises(IsADirectoryError, match=r"out\.json: it is a folder"):
        write_pair(tif, sidecar, sidecar_becomes_folder=True)
    assert tif.read_text() == "old raster"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.tif"]


def test_only_temporaries_of_the_named_file_are_stale(tmp_path):
    names = [".out.tif.a1b2c3d4.tmp", ".out.tif.a1b2c3d4.sum.tif", ".out.tif.keep.tmp", ".x.tif.a1b2c3d4.tmp"]
    for name in names:
        (tmp_path / name).write_text("partial")
    removed = remove_stale_temporaries(tmp_path / "out.tif", (".tmp", ".sum.tif"))
    assert sorted(p.name for p in removed) == [".out.tif.a1b2c3d4.sum.tif", ".out.tif.a1b2c3d4.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.tif.keep.tmp", ".x.tif.a1b2c3d4.tmp"]
