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
