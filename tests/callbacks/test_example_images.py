"""ExampleImages on a real tiny task: PNG panels with the expected names and size, TensorBoard images."""

import csv

import numpy as np
import pytest
from callback_run import make_data, make_task, make_trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from matplotlib.image import imread
from tensorboard.backend.event_processing.event_accumulator import IMAGES, EventAccumulator

from axion_terratorch.callbacks import ExampleImages
from axion_terratorch.panels import CELL_PIXELS, Tile, render_panel


def test_panels_go_to_png_files_and_tensorboard(tiny_model, tmp_path):
    tensorboard = TensorBoardLogger(tmp_path, name="tb")
    trainer = make_trainer(
        tmp_path,
        [ExampleImages(num_tiles=2)],
        logger=[tensorboard, CSVLogger(tmp_path, name="csv")],
        max_steps=2,
        val_check_interval=1,
        num_sanity_val_steps=1,
    )
    trainer.fit(make_task(tiny_model), make_data(num_train=2, num_val=2, batch_size=1))  # tiles span batches

    examples = tmp_path / "tb" / "version_0" / "examples"  # trainer.log_dir: the first logger's
    names = sorted(path.name for path in examples.iterdir())
    # one validation after each of the 2 steps, none for the sanity check; at the val/* scalars' steps
    with next((tmp_path / "csv").glob("version_*/metrics.csv")).open() as f:
        val_steps = sorted({int(row["step"]) for row in csv.DictReader(f) if row.get("val/loss")})
    assert len(val_steps) == 2
    assert names == [f"step_{step:06d}_tile_{i}.png" for step in val_steps for i in range(2)]
    image = imread(examples / names[0])
    assert image.shape[:2] == (2 * CELL_PIXELS, 4 * CELL_PIXELS)  # SAR, input, output, target

    events = EventAccumulator(tensorboard.log_dir, size_guidance={IMAGES: 0})
    events.Reload()
    tags = events.Tags()[IMAGES]
    assert sorted(tags) == [f"val/examples/tile_{i}" for i in range(2)]
    assert [event.step for event in events.Images("val/examples/tile_0")] == val_steps


def test_every_n_validations_save_dir_no_logger_no_target(tiny_model, tmp_path):
    callback = ExampleImages(num_tiles=1, every_n_validations=2, save_dir=str(tmp_path / "png"))
    trainer = make_trainer(tmp_path, [callback], max_steps=3, val_check_interval=1)
    task = make_task(tiny_model, target_key="no_target")  # batches without a target
    trainer.fit(task, make_data(num_train=3, num_val=1, batch_size=1))
    # the second of three validations: after step 2, logged (as its scalars) at step 1
    assert sorted(path.name for path in (tmp_path / "png").iterdir()) == ["step_000001_tile_0.png"]
    image = imread(tmp_path / "png" / "step_000001_tile_0.png")
    assert image.shape[:2] == (2 * CELL_PIXELS, 3 * CELL_PIXELS)  # SAR, input, output
    assert callback.state_dict() == {"validations": 3}


def test_panel_without_target_has_three_columns():
    rng = np.random.default_rng(0)
    tile = Tile(
        sar=rng.normal(-15.0, 5.0, (2, 32, 32)),
        optical=rng.uniform(0.0, 0.3, (4, 32, 32)),
        output=rng.uniform(0.0, 0.3, (4, 32, 32)),
    )
    pixels = render_panel(tile, rgb=(2, 1, 0), title="tile 0")
    assert pixels.shape == (2 * CELL_PIXELS, 3 * CELL_PIXELS, 3)
    assert pixels.dtype == np.uint8


@pytest.mark.parametrize("arg", ["num_tiles", "every_n_validations"])
def test_zero_is_refused(arg):
    with pytest.raises(ValueError, match=rf"{arg} must be >= 1, got 0 \(to turn example images off"):
        ExampleImages(**{arg: 0})
