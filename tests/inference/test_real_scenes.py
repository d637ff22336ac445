"""On the real BigEarthNet pairs: the quality check refuses unrelated structure, and predict on real GeoTIFFs."""

import json

import numpy as np
import pytest
import rasterio
import torch
from scene_data import BANDS, PointwiseGrounding
from tile_writers import write_tif

from axion_terratorch.functional import sar_agreement
from axion_terratorch.inference.pipeline import predict_scene
from axion_terratorch.inference.quality import check_tiles
from axion_terratorch.inference.scene import GroundingOptions

from run_configs import SHARED_DATA

pytestmark = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason="real BigEarthNet pairs not beside the checkout"
)


@pytest.fixture(scope="module")
def pairs():
    from real_pairs import load_pairs

    return load_pairs()


def unrelated(optical):
    perm = torch.randperm(optical[0, 0].numel(), generator=torch.Generator().manual_seed(0))
    return {
        "flipped": optical.flip(-1),
        "rotated": optical.rot90(1, (-2, -1)),
        "shuffled": optical.flatten(2)[..., perm].view_as(optical),
    }


def test_check_passes_true_pairs_and_refuses_unrelated_structure(pairs):
    """An output whose structure no longer follows the SAR (the true image flipped, rotated or
    shuffled) loses SAR agreement: never ``production``."""
    for name, sar, optical in pairs:
        ((*_, verdict),) = check_tiles(optical, optical, sar, BANDS)
        assert verdict.passed, name
        for kind, image in unrelated(optical).items():
            ((*_, verdict),) = check_tiles(image, optical, sar, BANDS)
            assert not verdict.passed, (name, kind)


def test_predict_on_a_real_pair_keeps_the_grid_and_scores_the_input(tmp_path, pairs):
    name, sar, optical = pairs[0]
    s1_dir = SHARED_DATA / "BigEarthNet-S1-v1.0" / name
    with rasterio.open(s1_dir / f"{name}_VV.tif") as src:
        grid, s1_nodata = {"crs": src.crs, "transform": src.transform}, src.nodata
    write_tif(tmp_path / "s1.tif", sar[0].numpy(), nodata=s1_nodata, **grid)
    write_tif(tmp_path / "opt.tif", np.rint(optical[0].numpy() * 1e4).astype(np.uint16), nodata=0, **grid)
    options = GroundingOptions(window=64, overlap=16, progress=False)
    sidecar = predict_scene(
        PointwiseGrounding(),
        tmp_path / "s1.tif",
        tmp_path / "opt.tif",
        tmp_path / "out.tif",
        options,
        optical_bands=["B02", "B03", "B04", "B08"],
        lpips=False,
    )
    with rasterio.open(tmp_path / "out.tif") as out:
        assert (out.crs, out.transform, out.shape) == (grid["crs"], grid["transform"], (120, 120))
    assert sidecar["sar_agreement_input"] == pytest.approx(sar_agreement(optical, sar).item(), abs=1e-4)
    # The stand-in scales the optical by a function of VV: a SAR imprint, which the check names.
    assert json.loads((tmp_path / "out.json").read_text())["quality_flag"] == "over-grounded"
