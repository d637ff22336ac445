"""Atomic writes: the old file survives a failed write; the new file has normal permissions."""

import os
import stat

import pytest
import torch

from axion_terratorch.atomic import atomic_path
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

    stale = tmp_path / ".last.ckpt.abc123.tmp"  # as a process killed mid-write leaves it
    stale.write_bytes(b"partial")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write checkpoint .*last\.ckpt"):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path, weights_only=True) == {"step": 1}
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
