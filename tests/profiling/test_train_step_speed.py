"""benchmarks/train_step_speed.py runs as documented at tiny size and compares what it says it does
(figures are not checked: timings belong to the benchmark, not to tests)."""

import json

import pytest

from run_configs import OFFLINE_TEST_SIZE, load_benchmark

pytestmark = OFFLINE_TEST_SIZE


@pytest.fixture(scope="module")
def benchmark():
    return load_benchmark("train_step_speed")


def run(benchmark, tmp_path, *args: str) -> list[dict]:
    out = tmp_path / "speed.json"
    flags = ["--tiles", "32", "--timesteps", "1", "--warmup", "0", "--repeats", "1", "--json", str(out)]
    assert benchmark.main([*args, *flags]) == 0
    return json.loads(out.read_text())["rows"]


@pytest.mark.slow
def test_generative_modes_train_what_they_name(benchmark, tmp_path, capsys):
    (row,) = run(benchmark, tmp_path, "--models", "generative")
    # LoRA < the plugin's full fine-tuning (transformer) < every weight (the tokenizer's decoder too).
    assert 0 < row["trainable_lora"] < row["trainable_full"] < row["trainable_full_all"]
    for mode in ("plugin_lora", "plugin_full", "plugin_full_all", "bare_lora", "bare_full"):
        assert len(row["steps_s"][mode]) == 1
        assert row[f"{mode}_s"] > 0
    for mode in ("lora", "full"):
        assert all(row[f"bare_{mode}_{phase}_s"] > 0 for phase in ("forward", "backward", "optimizer"))
    # The printed phase table shows the measured numbers (3 decimals), one line per mode.
    lines = capsys.readouterr().out.splitlines()
    for mode in ("lora", "full"):
        (line,) = [text for text in lines if text.startswith(f"| generative tiny | 32 | 1 | {mode} |")]
        figures = [float(cell) for cell in line.strip(" |").split("|")[4:]]
        expected = [row[f"bare_{mode}_{phase}_s"] for phase in benchmark.PHASES]
        assert figures == pytest.approx(expected, abs=5e-4)


def test_lora_targets_choose_the_adapted_blocks(benchmark, tmp_path):
    (default,) = run(benchmark, tmp_path, "--models", "residual")
    (last,) = run(
        benchmark, tmp_path, "--models", "residual", "--lora-targets", r".*encoder\.11\.attn\.(qkv|proj)"
    )
    assert "trainable_full_all" not in default  # the plugin's full fine-tuning already trains every weight
    assert last["lora_targets"] == r".*encoder\.11\.attn\.(qkv|proj)"
    assert last["trainable_full"] == default["trainable_full"]
    # One block's adapters instead of twelve (the residual decoder trains in both). Per block of tiny
    # (width 192), rank 8: qkv 8 * (192 + 576) + proj 8 * (192 + 192) = 9216 parameters.
    assert default["trainable_lora"] - last["trainable_lora"] == 11 * 9216
