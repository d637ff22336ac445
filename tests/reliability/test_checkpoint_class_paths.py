"""A checkpoint's model config names only a model class of this package (the closed schema of
``axion_terratorch.models.schema``): nothing it names is imported or called, by ``predict``,
``evaluate``, ``export`` or the library."""

import copy
import os
import sys
import uuid
from pathlib import Path

import pytest
import torch
import yaml
from inference.scene_data import TINY_CONFIG, tiny_model, write_checkpoint

from axion_terratorch.checkpoints.export import CONFIG_FILE, load_export
from axion_terratorch.checkpoints.loading import CheckpointError, load_model
from axion_terratorch.cli import main
from axion_terratorch.models import TerraMindResidualGrounding

from forked import forked

#: A module whose import creates a marker file: the proof that a loader imported it.
EVIL_MODULE = """import pathlib
pathlib.Path({marker!r}).touch()
import torch
class Foo(torch.nn.Module):
    pass
"""


def write_module(folder: Path, name: str, marker: Path) -> None:
    (folder / f"{name}.py").write_text(EVIL_MODULE.format(marker=str(marker)))


def hparams_checkpoint(path: Path, model: object) -> Path:
    torch.save({"state_dict": {}, "hyper_parameters": {"model": model}}, path)
    return path


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """``(module name, marker)``: a module importable from the cwd (as terratorch puts the cwd on
    ``sys.path``) whose import creates ``marker``."""
    name = f"evilmod_{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "imported"
    write_module(tmp_path, name, marker)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    assert name not in sys.modules


def predict_from(folder: Path, args: list[str]) -> int:
    """``python -m axion_terratorch.cli predict ...`` run from ``folder``, which ``python -m`` puts first
    on ``sys.path``."""
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    return main(args)


def test_predict_refuses_a_checkpoint_naming_a_module_in_the_cwd_without_importing_it(tmp_path):
    """The reported case, in a child process of its own (forked: the import is per process)."""
    marker = tmp_path / "imported"
    write_module(tmp_path, "evilmod", marker)
    hparams_checkpoint(tmp_path / "it.ckpt", {"class_path": "evilmod.Foo", "init_args": {}})
    args = [
        "predict",
        "--checkpoint",
        "it.ckpt",
        "--s1",
        "s1.tif",
        "--optical",
        "opt.tif",
        "--output",
        "out.tif",
    ]
    log = tmp_path / "stderr.txt"
    child = forked(predict_from, tmp_path, args, stderr=log)
    child.join(timeout=300)
    assert child.exitcode == 2, log.read_text()
    error = log.read_text().strip().splitlines()
    assert len(error) == 1, log.read_text()
    assert "it.ckpt" in error[0]
    assert "'evilmod.Foo'" in error[0]
    assert not marker.exists()


@pytest.mark.parametrize(
    "model",
    [
        {"class_path": "EVIL.Foo"},
        {"class_path": "this"},
        {"class_path": "this.x"},
        {"class_path": "pathlib.Path.touch", "init_args": {"self": "pwned"}},
        {"class_path": ["EVIL.Foo"]},
        # nested: a class_path anywhere in the init_args, or a dotted string for a class-typed argument
        {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], "lora": {"class_path": "EVIL.Foo"}}},
        {"class_path": "torch.nn.Sequential", "init_args": {"args": [{"class_path": "EVIL.Foo"}]}},
        {"class_path": "torch.nn.Identity", "init_args": {"inner": "EVIL.Foo"}},
        # an allowed model with an argument it does not take, holding a class spec
        {**TINY_CONFIG, "init_args": {**TINY_CONFIG["init_args"], "norm_layer": {"class_path": "EVIL.Foo"}}},
        # issue 22, case 1: a terratorch class whose string argument jsonargparse would import and call
        {
            "class_path": "terratorch.models.backbones.terramind.model.terramind_vit.TerraMindViT",
            "init_args": {
                "norm_layer": {
                    "class_path": "terratorch.models.heads.regression_head.RegressionHead",
                    "init_args": {"in_channels": 4, "final_act": "EVIL.Foo"},
                },
                "act_layer": {"class_path": "torch.nn.Parameter"},
            },
        },
    ],
    ids=[
        "module",
        "bare-this",
        "this",
        "callable",
        "not-a-string",
        "nested",
        "in-list",
        "string-arg",
        "unknown-key",
        "terratorch-class",
    ],
)
def test_load_model_refuses_what_is_not_a_model_of_the_package(tmp_path, evil, model, capsys):
    name, marker = evil
    model = yaml.safe_load(yaml.safe_dump(model).replace("EVIL", name))
    path = hparams_checkpoint(tmp_path / "hparams.ckpt", model)
    with pytest.raises(CheckpointError, match=r"hparams\.ckpt \(hyper_parameters\): model") as caught:
        load_model(path)
    assert "\n" not in str(caught.value)
    assert not marker.exists()
    assert not marker.exists()
    assert "Beautiful is better than ugly" not in capsys.readouterr().out  # `import this` prints it


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_evaluate_and_export_refuse_it_with_exit_2(tmp_path, evil, command, capsys):
    name, marker = evil
    path = hparams_checkpoint(tmp_path / "hparams.ckpt", {"class_path": f"{name}.Foo"})
    data = {"class_path": "axion_terratorch.datamodules.SyntheticGroundingDataModule"}
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"data": data}))
    extra = {
        "evaluate": ["--data", str(tmp_path / "data.yaml"), "--output-dir", str(tmp_path / "eval")],
        "export": ["--output", str(tmp_path / "export")],
    }[command]
    assert main([command, "--checkpoint", str(path), *extra]) == 2
    assert f"'{name}.Foo'" in capsys.readouterr().err
    assert not marker.exists()
    assert not (tmp_path / "export").exists()


def test_an_export_folder_naming_a_module_is_refused(tmp_path, evil):
    name, marker = evil
    folder = tmp_path / "export"
    folder.mkdir()
    meta = {"kind": "merged", "model": {"class_path": f"{name}.Foo", "init_args": {}}}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(meta))
    with pytest.raises(
        CheckpointError, match=rf"config\.yaml: model\.class_path names '{name}\.Foo', which is not"
    ):
        load_export(folder)
    assert not marker.exists()


def test_a_config_the_user_passes_may_name_other_classes(tmp_path, monkeypatch):
    """``--config`` is the user's own file: its model may live in any module they choose."""
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "class Small(torch.nn.Linear):\n"
        "    def __init__(self, pretrained: bool = True):\n"
        "        super().__init__(2, 1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    weights = {"model.weight": torch.ones(1, 2), "model.bias": torch.zeros(1)}
    model = {"class_path": "my_models.Small"}
    torch.save({"state_dict": weights, "hyper_parameters": {"model": model}}, tmp_path / "own.ckpt")
    with pytest.raises(CheckpointError, match=r"my_models\.Small"):
        load_model(tmp_path / "own.ckpt")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"model": {"init_args": {"model": model}}}))
    loaded = load_model(tmp_path / "own.ckpt", config)
    assert torch.equal(loaded.weight, torch.ones(1, 2))


def test_a_json_class_spec_in_a_string_field_is_only_a_string(tmp_path, capsys):
    """Issue 22, case 2: ``'{"class_path": "this.Foo"}'`` is never parsed (jsonargparse imported ``this``)."""
    config = copy.deepcopy(TINY_CONFIG)
    config["init_args"]["ckpt_path"] = '{"class_path": "this.Foo"}'
    path = write_checkpoint(tiny_model(), tmp_path / "json.ckpt", config=config)
    modules = set(sys.modules)
    assert isinstance(load_model(path), TerraMindResidualGrounding)
    assert "this" not in set(sys.modules) - modules
    assert "Beautiful is better than ugly" not in capsys.readouterr().out


def test_a_ckpt_path_file_name_is_no_import_path(tmp_path):
    """Issue 22, case 7: ``ckpt_path: TerraMind_v1_tiny.pt`` looked like ``package.module``."""
    config = copy.deepcopy(TINY_CONFIG)
    config["init_args"]["ckpt_path"] = "TerraMind_v1_tiny.pt"
    model = tiny_model()
    loaded = load_model(write_checkpoint(model, tmp_path / "file.ckpt", config=config))
    state = loaded.state_dict()
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
