"""Real-data modules resume exactly: same order, crops and flips/rotations after a crash."""

import lightning.pytorch as pl
import pytest
from grounding_run import BANDS, tiny_task
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from tile_writers import write_npz

from axion_terratorch.datamodules import NpzTileDataModule
from axion_terratorch.datasets import TileOptions

from run_configs import CRASH, CrashAt, logged_train_losses


def fit(root, out, max_steps, ckpt_path=None, crash_at=None):
    pl.seed_everything(42)
    # 32 px training windows (random crops of larger tiles); augmentation on.
    dm = NpzTileDataModule(
        root, tiles=TileOptions(bands=BANDS, tile_size=32, stage2_proxy=True), batch_size=2
    )
    callbacks = [ModelCheckpoint(dirpath=out / "ckpt", save_last=True, every_n_train_steps=1, save_top_k=0)]
    if crash_at is not None:
        callbacks.append(CrashAt(crash_at))
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=max_steps,
        limit_val_batches=0,
        logger=CSVLogger(out, name="csv"),
        callbacks=callbacks,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(tiny_task(), dm, ckpt_path=ckpt_path)


@pytest.mark.slow
@pytest.mark.parametrize("size", [32, 48], ids=["native", "random-crops"])
def test_npz_run_resumed_mid_epoch_matches_the_uninterrupted_run(tmp_path, size):
    for index in range(6):
        write_npz(
            tmp_path / "tiles", f"tile{index}", size=size, seed=index, split="train" if index < 5 else "val"
        )
    fit(tmp_path / "tiles", tmp_path / "reference", max_steps=4)
    with pytest.raises(RuntimeError, match=CRASH):
        fit(tmp_path / "tiles", tmp_path / "resumed", max_steps=4, crash_at=1)
    fit(
        tmp_path / "tiles",
        tmp_path / "resumed",
        max_steps=4,
        ckpt_path=tmp_path / "resumed" / "ckpt" / "last.ckpt",
    )
    reference = logged_train_losses(tmp_path / "reference")
    resumed = logged_train_losses(tmp_path / "resumed")
    assert sorted(reference) == sorted(resumed) == [0, 1, 2, 3]
    for step in reference:
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-7), step
