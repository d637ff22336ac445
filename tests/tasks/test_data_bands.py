"""A data module reading other optical bands than the model takes is refused at setup, naming both
(the demo config through ``terratorch fit``)."""

import pytest
from terratorch.cli_tools import build_lightning_cli

from run_configs import REPO, tiny_run_config

RUN = ["--trainer.max_steps=1", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0"]


def test_data_bands_other_than_the_model_bands_are_refused_at_setup(tmp_path):
    config = tiny_run_config(
        REPO / "configs" / "stage3.demo.yaml", tmp_path, num_train=2, num_val=1, tile_size=32, batch_size=1
    )
    with pytest.raises(
        ValueError,
        match=r"reads the optical bands \['B02', 'B03', 'B04', 'B8A'\] but the model "
        r"takes \['B02', 'B03', 'B04', 'B08'\]",
    ):
        build_lightning_cli(["fit", "-c", str(config), "--data.init_args.bands=[B02, B03, B04, B8A]", *RUN])
    assert not list(tmp_path.glob("**/*.ckpt"))
