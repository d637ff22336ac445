"""benchmarks/gradient_steps.py runs as documented at tiny size and reports what it says it measures
(figures are not checked: timings belong to the benchmark, not to tests)."""

import json

import pytest

from run_configs import OFFLINE_TEST_SIZE, REPO, load_benchmark

pytestmark = OFFLINE_TEST_SIZE


@pytest.mark.slow
def test_side_by_side_settings_ratios_and_gradient_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the default --config is relative to the checkout, as documented
    benchmark = load_benchmark("gradient_steps")
    out = tmp_path / "runs" / "gradient_steps.json"
    flags = ["--tile-size", "32", "--timesteps", "2", "--gradient-steps", "1", "--warmup", "0"]
    assert benchmark.main([*flags, "--repeats", "1", "--json", str(out)]) == 0
    assert [p.name for p in out.parent.iterdir()] == ["gradient_steps.json"]  # atomic: no temporary left
    result = json.loads(out.read_text())
    # the shipped config's settings: 16-mixed, checkpointed steps, stand-in decoder weights
    assert (result["precision"], result["checkpoint_steps"]) == ("16-mixed", True)
    rows = {row["gradient_steps"]: row for row in result["rows"]}
    assert sorted(rows) == [1, 2]
    for row in rows.values():
        assert row["checkpoint_steps"] is True
        assert row["model_settings"]["gradient_steps"] == row["gradient_steps"]
        assert len(row["steps_s"]) == 1
    assert result["step_time_ratio"] == pytest.approx(rows[1]["step_s"] / rows[2]["step_s"])
    assert result["peak_memory_ratio"] == pytest.approx(rows[1]["peak_bytes"] / rows[2]["peak_bytes"])
    # every LoRA tensor of tiny's decoder cross-attention gets a gradient either way
    assert result["lora_tensors_with_grad"] == result["lora_tensors_with_grad_all_steps"] == 24
    assert result["targets_met"]["lora_tensors_with_grad"] is True
    printed = capsys.readouterr().out
    assert "| 1, checkpointed |" in printed
    assert "| 2 (all), checkpointed |" in printed
