"""``axion-stage3 memory-report`` on the shipped low-VRAM config, shrunk to ``tiny`` at 32 px."""

import json
from pathlib import Path

import pytest
import yaml

from axion_terratorch.cli import main

from run_configs import OFFLINE_TEST_SIZE

pytestmark = OFFLINE_TEST_SIZE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tiny_lowvr(tmp_path: Path) -> Path:
    config = yaml.safe_load((REPO / "configs" / "stage3.lowvr.yaml").read_text())
    config["model"]["init_args"]["model"]["init_args"]["variant"] = "tiny"
    config["data"]["init_args"]["tiles"]["tile_size"] = 32
    path = tmp_path / "lowvr.tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_report_prints_the_table_and_writes_json_atomically(tiny_lowvr, tmp_path, capsys):
    out = tmp_path / "reports" / "budget.json"
    code = main(
        [
            *("memory-report", "-c", str(tiny_lowvr), "--timesteps", "2", "--gradient-steps", "1"),
            *("--json", str(out), "--max-gib", "0.01"),
        ]
    )
    assert code == 1  # the peak (> 0.5 GiB of frozen weights) exceeds --max-gib; the report is still written
    printed = capsys.readouterr()
    assert "| **Total** (sum of the above) |" in printed.out
    assert "timesteps 2, gradient_steps 1," in printed.out
    assert "exceeds --max-gib 0.01" in printed.err
    report = json.loads(out.read_text())
    assert sorted(p.name for p in out.parent.iterdir()) == ["budget.json"]  # no temporary file left
    # defaults from the config: trainer.precision 16-mixed, data batch_size 1 and tile_size 32,
    # the model's checkpoint_steps; pretrained weights off
    assert report["precision"] == "16-mixed"
    assert (report["batch_size"], report["tile_size"]) == (1, 32)
    assert report["model_settings"]["timesteps"] == 2
    assert report["model_settings"]["gradient_steps"] == 1
    assert report["model_settings"]["checkpoint_steps"] is True
    assert report["optimizer_bytes"] >= 2 * report["adapter_bytes"]
    assert report["total_bytes"] == sum(
        report[k]
        for k in ("frozen_bytes", "adapter_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes")
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "missing.yaml"], "missing.yaml: file not found"),
        (["--precision", "16-true"], "'16-true'"),
        (["--tile-size", "0"], "--tile-size 0: must be an integer from 16"),
        (["--timesteps", "2", "--gradient-steps", "3"], "gradient_steps must be in [1, timesteps=2]"),
    ],
)
def test_errors_exit_2_and_name_the_problem(tiny_lowvr, args, message, capsys):
    # each error comes before the measured training step
    argv = ["memory-report", *args] if args[0] == "-c" else ["memory-report", "-c", str(tiny_lowvr), *args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_phases_are_printed_as_they_run_with_an_estimate(capsys):
    demo = REPO / "configs" / "stage3.demo.yaml"
    assert main(["memory-report", "-c", str(demo), "--tile-size", "32", "--batch-size", "1", "--quick"]) == 0
    printed = capsys.readouterr()
    phases = [line.split(": ", 1)[1].split(" (")[0] for line in printed.err.splitlines()]
    assert phases == [
        "building the task",
        "timing a forward pass on a 32 px tile",
        "the measured step",
        "optimizer state",
        "forward pass and loss",
        "backward pass",
        "optimizer step",
        "done",
    ]
    assert "the measured step (batch 1, 32 px, 32-true) takes about" in printed.err
    assert "--quick" not in printed.out  # a residual model has no denoising steps to cut


def test_quick_cuts_a_generative_model_to_one_denoising_step(tiny_lowvr):
    from axion_terratorch.cli import subcommand_parser
    from axion_terratorch.cli.memory_report import add_arguments, resolve_settings

    parser = subcommand_parser("memory-report")
    add_arguments(parser)
    _, settings = resolve_settings(parser.parse_args(["-c", str(tiny_lowvr), "--quick"]))
    assert (settings["quick"], settings["overrides"]) == (True, {"timesteps": 1, "gradient_steps": 1})
    _, settings = resolve_settings(parser.parse_args(["-c", str(tiny_lowvr), "--quick", "--timesteps", "3"]))
    assert settings["overrides"] == {"timesteps": 3, "gradient_steps": 1}  # a flag given wins
