"""Lightning's loop counters and filesystem helper, read through the compat fence on a real fit."""

from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from lightning.pytorch.demos.boring_classes import BoringModel

from axion_terratorch.compat import CompatError
from axion_terratorch.compat.lightning import (
    DescribedRichProgressBar,
    batches_processed_in_epoch,
    batches_ready,
    filesystem,
    return_no_predictions,
    rich_bar_arguments,
    running_cli,
)


class Counting(BoringModel):
    def __init__(self) -> None:
        super().__init__()
        self.ready: list[int] = []
        self.processed: list[int] = []

    def on_after_batch_transfer(self, batch, dataloader_idx):
        if self.trainer.training:
            self.ready.append(batches_ready(self.trainer))
        return batch

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.processed.append(batches_processed_in_epoch(self.trainer))


def test_counters_follow_the_fit_loop(tmp_path):
    model = Counting()
    trainer = pl.Trainer(
        default_root_dir=tmp_path,
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model)
    assert model.ready == list(range(6))  # the global index of the batch being transferred
    assert model.processed == [1, 2, 3, 1, 2, 3]  # batches of this epoch done, this one included


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (batches_ready, "Trainer.fit_loop.epoch_loop.batch_progress.total.ready"),
        (batches_processed_in_epoch, "Trainer.fit_loop.epoch_loop.batch_progress.current.processed"),
    ],
)
def test_a_moved_counter_is_named(read, expected):
    with pytest.raises(CompatError, match=f"lightning .* expected `{expected}`"):
        read(SimpleNamespace(fit_loop=SimpleNamespace()))


def test_filesystem_of_local_and_remote_paths(tmp_path):
    assert isinstance(filesystem(str(tmp_path / "last.ckpt")), LocalFileSystem)
    assert isinstance(filesystem("memory://run/last.ckpt"), MemoryFileSystem)


def test_described_rich_bar_gives_its_own_description_or_lightnings():
    class Described(DescribedRichProgressBar):
        def train_description(self, current_epoch):
            return None if current_epoch == 0 else f"round {current_epoch}"

    bar = Described(refresh_rate=3, leave=True)
    bar._trainer = SimpleNamespace(max_epochs=5)
    assert bar._get_train_description(2) == "round 2"
    assert bar._get_train_description(0).startswith("Epoch 0/4")
    assert rich_bar_arguments(bar) == (3, True, bar.theme, {})


def test_return_no_predictions_empties_what_predict_returns():
    class NoPredictions(pl.Callback):
        def setup(self, trainer, pl_module, stage):
            return_no_predictions(trainer)

    trainer = pl.Trainer(logger=False, enable_progress_bar=False, callbacks=[NoPredictions()])
    assert trainer.predict(BoringModel()) is None
    with pytest.raises(CompatError, match=r"predict_loop"):
        return_no_predictions(SimpleNamespace())


class SeesItsCLI(BoringModel):
    def __init__(self) -> None:
        super().__init__()
        self.cli = running_cli()


def test_running_cli_is_the_lightning_cli_that_builds_the_model_and_none_outside(tmp_path, monkeypatch):
    from lightning.pytorch.cli import LightningCLI

    monkeypatch.setattr("sys.argv", ["fit"])
    cli = LightningCLI(
        SeesItsCLI, run=False, args=[f"--trainer.default_root_dir={tmp_path}"], save_config_callback=None
    )
    assert cli.model.cli is cli
    assert SeesItsCLI().cli is None
