"""``configs/stage3.real.yaml`` through terratorch's CLI on the real pairs, and the benchmark's scoring."""

import pytest
import torch
from terratorch.cli_tools import build_lightning_cli

from axion_terratorch.callbacks import SARAblation, ablate_sar
from axion_terratorch.constants import S1GRD_MEAN
from axion_terratorch.inference.checkpoint import read_checkpoint

from run_configs import REPO, SHARED_DATA, SHARED_SSL4EO, load_benchmark

real_data = pytest.mark.skipif(
    not (SHARED_DATA.is_dir() and SHARED_SSL4EO.is_dir()), reason="real pairs not beside the checkout"
)


@pytest.mark.slow
@real_data
def test_real_recipe_trains_selects_on_fidelity_and_leaves_a_true_last_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the recipe's data paths are relative to the checkout root
    benchmark = load_benchmark("real_pairs")
    config = benchmark.run_config(
        tmp_path,
        "full",
        max_steps=3,
        overrides=["data.init_args.train_repeats=1", "trainer.log_every_n_steps=1"],
    )
    cli = build_lightning_cli(["fit", "-c", str(config)])
    assert cli.trainer.global_step == 3
    checkpoints = tmp_path / "checkpoints"
    assert read_checkpoint(checkpoints / "last.ckpt")["global_step"] == 3
    (best,) = checkpoints.glob("best-*.ckpt")
    states = read_checkpoint(best)["callbacks"].values()
    assert any(state.get("monitor") == "val/psnr" for state in states)
    rows = benchmark.score_held_out(best, config, "full")
    assert [(row["split"], row["tile"]) for row in rows] == [("val", "69_24"), ("test", "87_48")]
    other_draw = benchmark.score_held_out(best, config, "full", proxy_seed=1)
    for row, other in zip(rows, other_draw, strict=True):
        assert row["psnr_gain"] == pytest.approx(row["psnr"] - row["psnr_input"])
        assert other["psnr_input"] != row["psnr_input"]  # another draw of the Stage 2 proxy
        assert other["sar_agreement_target"] == pytest.approx(row["sar_agreement_target"])  # same truth


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
