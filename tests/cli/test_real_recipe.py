"""``configs/stage3.real.yaml`` through terratorch's CLI on the real pairs, and the benchmark's scoring."""

import math

import pytest
import torch
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.callbacks import SARAblation, ablate_sar
from axion_terratorch.checkpoints.loading import read_checkpoint
from axion_terratorch.constants import DEFAULT_BANDS, OPTICAL_KEY, S1GRD_MEAN, SAR_KEY
from axion_terratorch.functional import smooth

from run_configs import REPO, SHARED_DATA, SHARED_SEN12MSCR, SHARED_SSL4EO, load_benchmark

real_data = pytest.mark.skipif(
    not (SHARED_DATA.is_dir() and SHARED_SSL4EO.is_dir() and SHARED_SEN12MSCR.is_dir()),
    reason="real pairs not beside the checkout",
)


@pytest.mark.slow
@real_data
def test_real_recipe_trains_selects_on_fidelity_and_the_benchmark_scores_every_held_out_set(
    tmp_path, monkeypatch
):
    """The recipe trains through terratorch's CLI on both processing levels and selects on val/psnr;
    the benchmark scores the held-out sets (validation, the test split, the test location's L1C)
    per error kind, with the error mask empty under the photometric proxy alone, and leaves out the
    one true image that is clouded itself."""
    monkeypatch.chdir(REPO)  # the recipe's data paths are relative to the checkout root
    benchmark = load_benchmark("real_pairs")
    # A recipe whose validation leaves out its structural errors is still scored with each kind's.
    overrides = [
        "data.init_args.train_repeats=1",
        "trainer.log_every_n_steps=1",
        "data.init_args.tiles.eval_stage2_errors=false",
    ]
    config = benchmark.run_config(tmp_path, "full", 0, 3, overrides)
    cli = build_lightning_cli(["fit", "-c", str(config)])
    assert cli.trainer.global_step == 3
    assert set(cli.datamodule.train_dataset.names) == {
        "36_85",
        "4_55",
        "56_35",
        "ROIs1158_spring_101_30",
        "ROIs1158_spring_101_31",
        "ROIs1158_spring_101_32",
    }
    checkpoints = tmp_path / "checkpoints"
    assert read_checkpoint(checkpoints / "last.ckpt")["global_step"] == 3
    (best,) = checkpoints.glob("best-*.ckpt")
    states = read_checkpoint(best)["callbacks"].values()
    assert any(state.get("monitor") == "val/psnr" for state in states)
    rows = benchmark.score_seed({"full": best, "no-sar": best}, config, 0, [0], ["photometric", "occlusion"])
    sets = {(row["split"], row["set"], row["tile"]) for row in rows}
    assert sets == {
        ("val", "recipe", "69_24"),
        ("test", "recipe", "87_48"),
        ("test", "recipe", "0000000_0"),
        ("test", "recipe", "0000000_1"),
        ("test", "ssl4eo-s2c", "0000000_0"),
        ("test", "ssl4eo-s2c", "0000000_1"),
    }
    for row in rows:
        assert row["kind"] == "occlusion" or row["error_fraction"] == 0
        assert set(row) >= {"full", "no-sar", "wrong-sar", "guided", "sar-fill", "sar-fill-wrong-sar"}
        assert ("no_harm" in row) == (row["kind"] == "photometric")
    clouded = {(row["set"], row["tile"]) for row in rows if row["reference_cloud_fraction"] > 0}
    assert clouded == {("ssl4eo-s2c", "0000000_1")}  # the August L1C truth has clouds of its own
    occluded = [row for row in rows if row["kind"] == "occlusion" and row["error_fraction"] > 0]
    assert occluded
    assert all(math.isfinite(row["guided"]["psnr_gain_mask"]) for row in occluded)
    summary = benchmark.summarize(rows)
    assert summary["occlusion"]["psnr_gain"]["full"]["n"] == 5  # the test pairs, one draw, one seed


def test_sar_ablation_removes_the_sar_information():
    sar = torch.randn(3, 2, 8, 8) - 12
    mean = ablate_sar(sar, "mean")
    assert torch.equal(mean[:, :, 0, 0], torch.tensor([S1GRD_MEAN] * 3))
    assert mean.std(dim=(-2, -1)).max() == 0
    shuffled = ablate_sar(sar, "shuffle", torch.Generator().manual_seed(0))
    assert all(not torch.equal(shuffled[i], sar[i]) for i in range(3))
    assert sorted(shuffled.sum(dim=(1, 2, 3)).tolist()) == sorted(sar.sum(dim=(1, 2, 3)).tolist())
    with pytest.raises(ValueError, match="mode"):
        ablate_sar(sar, "zeros")


def test_sar_ablation_callback_replaces_the_sar_of_every_stage():
    callback = SARAblation("mean")
    for hook in (
        "on_train_batch_start",
        "on_validation_batch_start",
        "on_test_batch_start",
        "on_predict_batch_start",
    ):
        batch = {"image": {"S1GRD": torch.randn(2, 2, 8, 8) - 12, "S2L2A": torch.rand(2, 4, 8, 8)}}
        getattr(callback, hook)(None, None, batch, 0)
        assert batch["image"]["S1GRD"].std(dim=(-2, -1)).max() == 0, hook


def test_no_harm_counts_an_agreement_excess_the_unchanged_input_already_has():
    """The unchanged input fails no-harm where it agrees with the SAR more than the truth does; its row
    carries that excess as the input's, and a failure on an excess the input has is told apart from one
    the output caused."""
    benchmark = load_benchmark("real_pairs")
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, len(DEFAULT_BANDS), 48, 48, generator=gen) * 0.3
    optical = smooth(target, 2.0)
    sar = torch.tensor(S1GRD_MEAN).view(1, 2, 1, 1) + 20 * optical[:, 2:4]  # the input's structure
    batch = {
        "image": {OPTICAL_KEY: optical, SAR_KEY: sar},
        "target": target,
        "valid_mask": torch.ones(2, 1, 48, 48, dtype=torch.bool),
        "error_mask": torch.zeros(2, 1, 48, 48),
        "filename": ["a", "b"],
    }
    rows = benchmark.score_batch({"full": optical}, batch, DEFAULT_BANDS, photometric=True)
    for row in rows:
        no_harm = row["no_harm"]
        assert no_harm["psnr_gain"] == pytest.approx(0.0, abs=1e-6)
        assert no_harm["sar_agreement_excess"] > no_harm["half_gap"]  # the input fails the criterion
        assert no_harm["sar_agreement_excess"] == pytest.approx(
            no_harm["sar_agreement_excess_input"], abs=1e-6
        )
    case = {"psnr_gain": 0.9, "quality_flag": "production", "half_gap": 0.01}
    failed_by_input = {**case, "met": False, "sar_agreement_excess": 0.02, "sar_agreement_excess_input": 0.04}
    failed_by_output = {**case, "met": False, "sar_agreement_excess": 0.02, "sar_agreement_excess_input": 0.0}
    passed = {**case, "met": True, "sar_agreement_excess": 0.0, "sar_agreement_excess_input": 0.0}
    facts = benchmark.no_harm_failures(
        [
            *rows,
            {"no_harm": failed_by_input},
            {"no_harm": failed_by_output},
            {"no_harm": passed},
            {"kind": "occlusion"},
        ]
    )
    assert facts == {"cases": 5, "failed": 4, "failed_only_on_an_excess_the_input_has": 3}
