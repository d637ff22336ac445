"""Issue 22, case 7: an export's ``config.yaml`` is data: no ``kind`` is a named error, and every file it
names stays inside the export folder."""

import pytest
import yaml
from inference.scene_data import TINY_CONFIG

from axion_terratorch.checkpoints.export import CONFIG_FILE, load_export
from axion_terratorch.checkpoints.loading import CheckpointError


def export_folder(tmp_path, meta):
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(meta))
    return folder


@pytest.mark.parametrize("kind", [None, "pickle", ["adapter"]])
def test_a_config_without_a_known_kind_is_named(tmp_path, kind):
    meta = {"model": TINY_CONFIG} if kind is None else {"kind": kind, "model": TINY_CONFIG}
    with pytest.raises(
        CheckpointError, match=r"config\.yaml: kind is .*expected one of \['adapter', 'merged'\]"
    ):
        load_export(export_folder(tmp_path, meta))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("base_weights", "/etc/passwd"),
        ("base_weights", "../outside.safetensors"),
        ("base_weights", "sub/../../outside.safetensors"),
        ("adapters", {"backbone": "../elsewhere"}),
        ("adapters", {"backbone": "/tmp"}),
    ],
)
def test_files_outside_the_export_folder_are_refused(tmp_path, key, value):
    """The reported case: ``base_weights`` was read from an absolute path outside the folder."""
    (tmp_path / "outside.safetensors").write_bytes(b"")
    meta = {"kind": "adapter", "model": TINY_CONFIG, "adapters": {}, key: value}
    name = "base_weights" if key == "base_weights" else "adapters.backbone"
    with pytest.raises(
        CheckpointError, match=rf"config\.yaml: {name} is .*must be a relative path inside the export folder"
    ):
        load_export(export_folder(tmp_path, meta))


def test_a_link_out_of_the_export_folder_is_refused(tmp_path):
    (tmp_path / "outside.safetensors").write_bytes(b"")
    folder = export_folder(
        tmp_path, {"kind": "adapter", "model": TINY_CONFIG, "adapters": {}, "base_weights": "b.safetensors"}
    )
    (folder / "b.safetensors").symlink_to(tmp_path / "outside.safetensors")
    with pytest.raises(
        CheckpointError, match=r"base_weights is 'b\.safetensors'; it must be a relative path inside"
    ):
        load_export(folder)


def test_an_alias_bomb_config_is_refused_at_once(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    levels = "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (folder / CONFIG_FILE).write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + levels + "kind: merged\n")
    with pytest.raises(CheckpointError, match=r"config\.yaml: the YAML expands to [\d,]+ nodes"):
        load_export(folder)
