"""BigEarthNet v2 through torchgeo's ``BigEarthNetV2``: a fake archive in its layout trains one step."""

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from grounding_run import tiny_task
from tile_writers import write_tif
from torchgeo.datasets import BigEarthNetV2

from axion_terratorch.constants import OPTICAL_KEY, S2L2A_BANDS, SAR_KEY
from axion_terratorch.datamodules import BigEarthNetPairDataModule
from axion_terratorch.datasets import TileOptions

S2_FILE_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def write_band(path, value, rng, dtype):
    data = (value + rng.normal(0, abs(value) * 0.05 + 1, (1, 120, 120))).astype(dtype)
    write_tif(path, data, origin=(500000.0, 5000000.0))


def write_bigearthnet_v2(root, splits=("train", "train", "validation", "test")):
    """Patches laid out as torchgeo reads them: metadata.parquet, BigEarthNet-S1/-S2, Reference_Maps."""
    rng = np.random.default_rng(0)
    rows = []
    for index, split in enumerate(splits):
        tile = f"S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP_{index}_57"
        s1_name = f"S1A_IW_GRDH_1SDV_20170613T165043_33UUP_{index}_57"
        tile_dir = root / "BigEarthNet-S2" / "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP" / tile
        for band in S2_FILE_BANDS:
            write_band(tile_dir / f"{tile}_{band}.tif", 1500.0 + 100 * S2L2A_BANDS.index(band), rng, "uint16")
        s1_dir = root / "BigEarthNet-S1" / "S1A_IW_GRDH_1SDV_20170613T165043" / s1_name
        write_band(s1_dir / f"{s1_name}_VV.tif", -11.0, rng, "float32")
        write_band(s1_dir / f"{s1_name}_VH.tif", -18.0, rng, "float32")
        map_dir = root / "Reference_Maps" / "S2A_MSIL2A_20170613T101031_N9999_R022_T33UUP" / tile
        write_band(map_dir / f"{tile}_reference_map.tif", 211, rng, "uint16")
        rows.append(
            {"patch_id": tile, "s1_name": s1_name, "split": split, "labels": [BigEarthNetV2.class_set[0]]}
        )
    pd.DataFrame(rows).to_parquet(root / "metadata.parquet")


def test_bigearthnet_v2_trains_one_step_with_vv_first_and_reflectance(tmp_path):
    write_bigearthnet_v2(tmp_path)
    tiles = TileOptions(tile_size=64, stage2_proxy=True)
    dm = BigEarthNetPairDataModule(tmp_path, version="v2", tiles=tiles, batch_size=2)
    trainer = pl.Trainer(
        accelerator="cpu", fast_dev_run=1, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    trainer.fit(tiny_task(), datamodule=dm)
    assert trainer.global_step == 1
    batch = next(iter(dm.val_dataloader()))
    sar, target = batch["image"][SAR_KEY], batch["target"]
    assert sar.shape == (1, 2, 64, 64)
    assert batch["image"][OPTICAL_KEY].shape == target.shape == (1, 4, 64, 64)
    assert float(sar[:, 0].mean()) > float(sar[:, 1].mean())  # VV (-11 dB) first, VH (-18 dB) second
    expected = [(1500.0 + 100 * S2L2A_BANDS.index(b)) / 10000 for b in ("B02", "B03", "B04", "B08")]
    assert np.allclose(target.mean(dim=(0, 2, 3)).numpy(), expected, rtol=0.05)  # DN -> reflectance, by name
