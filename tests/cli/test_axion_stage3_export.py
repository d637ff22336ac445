"""``axion-stage3 export`` in-process: a checkpoint, or the best of a run."""

import torch
import yaml
from inference.scene_data import tiny_model, write_checkpoint

from axion_terratorch.cli import main


def test_export_adapter_and_merged(tmp_path):
    ckpt = write_checkpoint(tiny_model(), tmp_path / "model.ckpt")
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(tmp_path / "adapter")]) == 0
    assert (tmp_path / "adapter" / "adapter" / "backbone.encoder" / "adapter_model.safetensors").is_file()
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(tmp_path / "merged"), "--merged"]) == 0
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(tmp_path / "merged"), "--merged"]) == 2


def test_export_best_of_a_run(tmp_path, capsys):
    model = tiny_model()
    run = tmp_path / "run" / "checkpoints"
    run.mkdir(parents=True)
    for step, score in ((1, 28.5), (2, 31.25)):
        path = write_checkpoint(model, run / f"step={step}.ckpt", step=step)
        checkpoint = torch.load(path, weights_only=True)
        checkpoint["callbacks"] = {
            "ModelCheckpoint": {"monitor": "val/psnr", "current_score": torch.tensor(score)}
        }
        torch.save(checkpoint, path)
    assert main(["export", "--run-dir", str(tmp_path / "run"), "--output", str(tmp_path / "best")]) == 0
    assert "step=2.ckpt" in capsys.readouterr().out
    config = yaml.safe_load((tmp_path / "best" / "config.yaml").read_text())
    assert config["source_checkpoint"].endswith("step=2.ckpt")
    assert [row["score"] for row in config["selection"]["ranking"]] == [31.25, 28.5]
    assert (
        main(
            [
                "export",
                "--run-dir",
                str(tmp_path / "run"),
                "--output",
                str(tmp_path / "x"),
                "--select",
                "composite",
                "--weight",
                "bad",
            ]
        )
        == 2
    )


def tree(folder):
    """Every path under ``folder`` with its bytes (``None`` for folders)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in folder.rglob("*")}


def test_overwrite_replaces_only_an_earlier_export(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    ckpt = write_checkpoint(tiny_model(), work / "model.ckpt")
    (work / "notes.txt").write_text("my notes")
    (work / "sub").mkdir()
    (work / "sub" / "data.txt").write_text("data")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    refused = {
        ".": "the working directory or a folder above it",
        str(tmp_path): "the working directory or a folder above it",
        "sub": "no earlier export wrote it",
    }
    for output, reason in refused.items():
        assert main(["export", "--checkpoint", "model.ckpt", "--output", output, "--overwrite"]) == 2
        assert reason in capsys.readouterr().err
    monkeypatch.chdir(tmp_path / "elsewhere")  # the checkpoint's folder, from another working directory
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(work), "--overwrite"]) == 2
    assert "it holds the checkpoint" in capsys.readouterr().err
    assert tree(tmp_path) == before

    export = tmp_path / "export"
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(export)]) == 0
    assert (export / "adapter").is_dir()
    assert (
        main(["export", "--checkpoint", str(ckpt), "--output", str(export), "--merged", "--overwrite"]) == 0
    )
    assert (export / "model.safetensors").is_file()
    assert not (export / "adapter").exists()
    assert yaml.safe_load((export / "config.yaml").read_text())["kind"] == "merged"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "export", "work"]  # no temporaries
