"""Memory of scene grounding does not grow with the scene (numpy allocations, traced)."""

import tracemalloc

import rasterio
from scene_data import PointwiseGrounding, write_pair

from axion_terratorch.datasets.scene_inputs import SceneInputs
from axion_terratorch.inference.scene import GroundingOptions, ground_scene

OPTIONS = GroundingOptions(window=64, overlap=8, batch_size=2, progress=False, max_scored_blocks=1)


def peak_bytes(folder, size):
    s1, opt = write_pair(folder, size, size, dn=False, nodata=None)
    scene = SceneInputs(s1, opt, PointwiseGrounding.bands)
    tracemalloc.start()
    try:
        ground_scene(PointwiseGrounding(), scene, folder / "out.tif", OPTIONS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_in_scene_size(tmp_path):
    small = peak_bytes(tmp_path / "small", 256)
    large = peak_bytes(tmp_path / "large", 1024)  # 16 x the pixels
    whole_scene = 1024 * 1024 * 6 * 4  # S1 + optical as float32
    assert large < 1.25 * small + 256 * 1024, (small, large)
    assert large < whole_scene / 2, (large, whole_scene)


class CacheRecorder(PointwiseGrounding):
    """:class:`PointwiseGrounding` noting GDAL's block-cache limit in force while the model runs."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: set[object] = set()

    def forward(self, image):
        self.limits.add(rasterio.env.getenv().get("GDAL_CACHEMAX"))
        return super().forward(image)


def cache_limits(folder, height, width, **env):
    s1, opt = write_pair(folder, height, width, dn=False, nodata=None)
    model = CacheRecorder()
    with rasterio.Env(**env):
        ground_scene(model, SceneInputs(s1, opt, model.bands), folder / "out.tif", OPTIONS)
    return model.limits


def test_gdal_block_cache_is_bounded_and_flat_in_scene_height(tmp_path):
    short = cache_limits(tmp_path / "short", 512, 2048)
    tall = cache_limits(tmp_path / "tall", 1024, 2048)
    assert short == tall, (short, tall)
    (limit,) = tall  # one limit for the whole run
    assert 0 < limit < 1024 * 2048 * 4 * (2 + 2 * 4)  # below the tall scene's inputs and sum


def test_gdal_cachemax_set_by_the_user_wins(tmp_path):
    assert cache_limits(tmp_path, 128, 128, GDAL_CACHEMAX=123 * 2**20) == {123 * 2**20}
